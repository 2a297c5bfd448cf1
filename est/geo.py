"""Where a shared location may be: inside the deployment, and at which known place.

A location comes from the reporter's phone, so it can be anywhere (a forged client, a
mistaken tap on the map, GPS far off). A report is about the kommun's areas: a location
outside the deployment's box is refused, and nothing of it is stored.

The box is the optional ``bounding_box`` of the config; without one it is spanned by the
configured places' coordinates, widened by ``MARGIN_KM`` on every side (the places are
the town's trouble spots, the kommun reaches further). Without any coordinates at all,
Sweden's bounds (as est.config checks a place's coordinates) are the box.

A location within ``SNAP_METRES`` of a known place of the chosen area is that place: the
report is stored as the place, without the more precise (and more revealing) position.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import asin, cos, isfinite, radians, sin, sqrt

from est.config import DeploymentConfig

MARGIN_KM = 5.0
SNAP_METRES = 150.0
# Shared positions are kept to 5 decimals (about a metre): more is noise.
DECIMALS = 5
EARTH_RADIUS_M = 6_371_000.0
KM_PER_DEGREE_LAT = 111.32


@dataclass(frozen=True)
class Box:
    """A latitude/longitude box in decimal degrees (WGS84), edges included."""

    south: float
    west: float
    north: float
    east: float


# Bounds of Sweden, as est.config.Place checks coordinates.
SWEDEN = Box(south=55.0, west=10.5, north=69.5, east=24.5)


@dataclass(frozen=True)
class Located:
    """A location accepted for a report: a known place, or the rounded position."""

    place_key: str | None = None
    lat: float | None = None
    lon: float | None = None


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres (haversine)."""
    phi1, phi2 = radians(lat1), radians(lat2)
    dphi, dlambda = phi2 - phi1, radians(lon2 - lon1)
    h = sin(dphi / 2) ** 2 + cos(phi1) * cos(phi2) * sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(h)))


def deployment_box(config: DeploymentConfig) -> Box:
    """The configured bounding box, else the places' box widened by ``MARGIN_KM``."""
    if config.bounding_box is not None:
        b = config.bounding_box
        return Box(south=b.south, west=b.west, north=b.north, east=b.east)
    points = [(p.lat, p.lon) for area in config.areas for p in area.places
              if p.lat is not None and p.lon is not None]
    if not points:
        return SWEDEN
    lats, lons = [lat for lat, _ in points], [lon for _, lon in points]
    dlat = MARGIN_KM / KM_PER_DEGREE_LAT
    # A degree of longitude is shortest at the box's edge furthest from the equator.
    widest = max(abs(min(lats) - dlat), abs(max(lats) + dlat))
    dlon = MARGIN_KM / (KM_PER_DEGREE_LAT * cos(radians(widest)))
    return Box(south=min(lats) - dlat, west=min(lons) - dlon,
               north=max(lats) + dlat, east=max(lons) + dlon)


def inside(box: Box, lat: float, lon: float) -> bool:
    """Whether a real point on the earth lies in the box."""
    if not (isfinite(lat) and isfinite(lon)) or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return False
    return box.south <= lat <= box.north and box.west <= lon <= box.east


def nearest_place_key(config: DeploymentConfig, area_key: str, lat: float, lon: float,
                      within_m: float = SNAP_METRES) -> str | None:
    """The area's known place nearest to the point, if it is at most ``within_m`` away."""
    area = config.area(area_key)
    best: tuple[float, str] | None = None
    for place in area.places if area is not None else []:
        if place.lat is None or place.lon is None:
            continue
        distance = distance_m(lat, lon, place.lat, place.lon)
        if distance <= within_m and (best is None or distance < best[0]):
            best = (distance, place.key)
    return best[1] if best is not None else None


def locate(config: DeploymentConfig, area_key: str, lat: float, lon: float) -> Located | None:
    """A shared location for a report in ``area_key``; None when it lies outside the
    deployment (refuse it, store nothing)."""
    if not inside(deployment_box(config), lat, lon):
        return None
    place_key = nearest_place_key(config, area_key, lat, lon)
    if place_key is not None:
        return Located(place_key=place_key)
    return Located(lat=round(lat, DECIMALS), lon=round(lon, DECIMALS))


__all__ = [
    "MARGIN_KM",
    "SNAP_METRES",
    "SWEDEN",
    "Box",
    "Located",
    "deployment_box",
    "distance_m",
    "inside",
    "locate",
    "nearest_place_key",
]
