"""Generate a synthetic world into a folder: Parquet tables, the hidden model, the manifest.

Steps run in a fixed order, each with its own random stream derived from the seed, and write
their tables as soon as they are complete so that memory is freed as the world grows; the
assessments wait for the history, which drops those dated inside a job. ``config.hidden_model``
picks the hidden world (:mod:`training.synthetic.variants`): outcome model, assessment noise
and logged coach policy. ``world.json`` is written last (to a temporary name, then renamed):
its presence marks a complete world.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from features.world_store import (
    HIDDEN_MODEL_DOC,
    HIDDEN_MODEL_FILE,
    MANIFEST_FILE,
    SCHEMAS,
    TRUTH_SCHEMA,
    TRUTH_TRUE_SKILLS,
)
from training.synthetic._common import (
    WrittenFile,
    sha256_of,
    stream,
    write_parquet,
    write_parquet_chunks,
)
from training.synthetic.config import GENERATOR_VERSION, WorldConfig, WorldSummary
from training.synthetic.hidden_model import PairContext
from training.synthetic.history import simulate_history
from training.synthetic.people import NamePools, generate_population
from training.synthetic.procurement import generate_procurement
from training.synthetic.reference import load_reference
from training.synthetic.skills import generate_recognition
from training.synthetic.variants import world_variant

logger = logging.getLogger(__name__)

StepCallback = Callable[[str, int, int], None]

STEPS = (
    "reference data",
    "jobseekers and coaches",
    "skills and assessments",
    "contracts and vacancies",
    "history",
    "assessments, exposures and outcomes",
    "hidden model and manifest",
)


def _table(columns: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    arrays = [
        array if array.type == schema.field(name).type else array.cast(schema.field(name).type)
        for name, array in columns.items()
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def generate_world(
    config: WorldConfig, out_dir: Path, on_step: StepCallback | None = None
) -> WorldSummary:
    """Generate the world described by ``config`` into ``out_dir``.

    ``on_step(name, index, total)`` is called as each named step starts (index 0-based).
    The same config always produces byte-identical Parquet files.
    """
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST_FILE
    # A half-rewritten folder must not look complete.
    manifest_path.unlink(missing_ok=True)
    written: list[WrittenFile] = []
    step_seconds: dict[str, float] = {}
    step_started = [started]
    current: list[str] = []

    def step(index: int) -> None:
        now = time.perf_counter()
        if current:
            step_seconds[current[-1]] = now - step_started[0]
            logger.info("%s took %.1f s", current[-1], now - step_started[0])
        step_started[0] = now
        current.append(STEPS[index])
        if on_step is not None:
            on_step(STEPS[index], index, len(STEPS))

    def write(name: str, columns: dict[str, pa.Array]) -> None:
        written.append(write_parquet(out, f"{name}.parquet", name, columns, SCHEMAS[name]))

    seed = config.seed
    variant = world_variant(config.hidden_model)
    step(0)
    ref = load_reference()
    pools = NamePools.build(seed)

    step(1)
    people = generate_population(config, ref, pools, stream(seed, "people"))
    jobseekers_table = _table(people.columns, SCHEMAS["jobseekers"])
    write("jobseekers", people.columns)
    write("coaches", people.coach_columns)

    step(2)
    recognition = generate_recognition(config, ref, people, stream(seed, "skills"), variant.noise)
    truth_table = _table(recognition.truth_columns, TRUTH_SCHEMA)
    written.append(
        write_parquet(
            out, TRUTH_TRUE_SKILLS, "true_skills", recognition.truth_columns, TRUTH_SCHEMA
        )
    )
    # The truth now lives in truth_table (and, as a matrix, in the hidden-model context).
    recognition.truth_columns.clear()

    step(3)
    procurement = generate_procurement(config, ref, pools, stream(seed, "procurement"))
    for name in (
        "organisations",
        "suppliers",
        "contracts",
        "employment_conditions",
        "performance_terms",
        "vacancies",
        "vacancy_skills",
    ):
        write(name, procurement.columns[name])

    step(4)
    context = PairContext.from_arrow(
        jobseekers_table,
        _table(procurement.columns["vacancies"], SCHEMAS["vacancies"]),
        _table(procurement.columns["vacancy_skills"], SCHEMAS["vacancy_skills"]),
        truth_table,
        ref.municipality_codes,
        ref.geography.distance_km,
        occupation_isco=(ref.occupation_uris, ref.occupation_isco),
        as_of=config.as_of,
    )
    del truth_table
    history = simulate_history(
        config,
        people,
        procurement,
        recognition,
        ref,
        variant.model,
        context,
        variant.policy,
        stream(seed, "history"),
    )
    del context
    gc.collect()

    step(5)
    assessments, observations, working_life = recognition.assessment_tables(
        people, ref.skill_uris, history.dropped_assessments
    )
    write("assessments", assessments)
    write("skill_observations", observations)
    write("working_life_observations", working_life)
    del recognition, assessments, observations, working_life
    written.append(
        write_parquet_chunks(
            out, "exposures.parquet", "exposures", history.exposure_chunks(), SCHEMAS["exposures"]
        )
    )
    write("outcomes", history.outcome_columns)
    funnel = history.funnel
    del history
    gc.collect()

    step(6)
    variant.save(out / HIDDEN_MODEL_FILE)
    (out / HIDDEN_MODEL_DOC).write_text(variant.markdown(), encoding="utf-8")
    rows = {f.table: f.rows for f in written}
    files = [
        {"table": f.table, "path": f.path, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256}
        for f in written
    ]
    for extra in (HIDDEN_MODEL_FILE, HIDDEN_MODEL_DOC):
        path = out / extra
        files.append({"path": extra, "bytes": path.stat().st_size, "sha256": sha256_of(path)})
    manifest: dict[str, Any] = {
        "generator": "training.synthetic",
        "generator_version": GENERATOR_VERSION,
        "config": config.model_dump(mode="json"),
        "as_of": config.as_of.isoformat(),
        "seed": config.seed,
        "counts": rows,
        "hidden_model": variant.name,
        "funnel": funnel,
        "reference_data": {"esco": "v1.1.1", "cpv": "2008", "isco": "ISCO-08"},
        "files": files,
    }
    tmp = out / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)

    now = time.perf_counter()
    step_seconds[current[-1]] = now - step_started[0]
    total_bytes = (
        sum(f.bytes for f in written)
        + sum((out / extra).stat().st_size for extra in (HIDDEN_MODEL_FILE, HIDDEN_MODEL_DOC))
        + manifest_path.stat().st_size
    )
    logger.info("world written to %s in %.1f s", out, now - started)
    return WorldSummary(
        out_dir=out,
        rows=rows,
        wall_seconds=now - started,
        step_seconds=step_seconds,
        bytes_written=total_bytes,
    )
