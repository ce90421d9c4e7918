"""MLflow tracking helpers: default local store, runs that never kill work."""

from autometa.tracking._store import (
    TrackedRun,
    TrackingWarning,
    default_artifact_location,
    default_tracking_uri,
    start_run,
    tracking_disabled_by_env,
)

__all__ = sorted(
    [
        "TrackedRun",
        "TrackingWarning",
        "default_artifact_location",
        "default_tracking_uri",
        "start_run",
        "tracking_disabled_by_env",
    ]
)
