"""Measuring a model: onnxruntime profiling per unit, records and cache, imported and agent times, the device model for devices nobody measured, and the resulting TimeTable.

Every public name of the package is re-exported here; import from the package.
"""

from __future__ import annotations

from planner_app.core.profiling.cache import (
    digest,
    entry_path,
    file_sha,
    get,
    level_key,
    put,
)
from planner_app.core.profiling.device_model import (
    HostCalibration,
    build_time_table,
    calibrate_host,
    host_device_record,
    is_accelerator,
    op_class,
    parallel_speedup,
)
from planner_app.core.profiling.imported import (
    ImportedTimes,
    ImportedTimesError,
    load_imported_times,
)
from planner_app.core.profiling.records import (
    PROFILE_FORMAT,
    HostInfo,
    LevelProfile,
    ModelProfile,
    ProfileError,
    ProfileInterrupted,
    ProfileSettings,
)
from planner_app.core.profiling.runner import (
    profile_level,
    profile_model,
)
from planner_app.core.profiling.timetable import (
    PROVENANCES,
    TimeTable,
)
from planner_app.core.profiling.unit_mapping import (
    UnitMapper,
)

__all__ = [
    "PROVENANCES",
    "TimeTable",
    "UnitMapper",
    "PROFILE_FORMAT",
    "ProfileError",
    "ProfileInterrupted",
    "HostInfo",
    "ProfileSettings",
    "LevelProfile",
    "ModelProfile",
    "digest",
    "level_key",
    "entry_path",
    "get",
    "put",
    "file_sha",
    "profile_model",
    "profile_level",
    "ImportedTimes",
    "ImportedTimesError",
    "load_imported_times",
    "HostCalibration",
    "host_device_record",
    "calibrate_host",
    "op_class",
    "is_accelerator",
    "parallel_speedup",
    "build_time_table",
]
