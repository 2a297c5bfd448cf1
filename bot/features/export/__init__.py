"""/export: a period of reports as files for coordinators."""
