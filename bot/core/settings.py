"""Process settings from the environment; the deployment itself is in TOML."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.db import DEFAULT_DATABASE_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    bot_token: SecretStr | None = Field(default=None, alias="BOT_TOKEN")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    config_path: str | None = Field(default=None, alias="LAGESBILD_CONFIG")
    telegram_api_url: str | None = Field(default=None, alias="TELEGRAM_API_URL")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
