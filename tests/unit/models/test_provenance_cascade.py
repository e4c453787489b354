"""Rows written in bulk go with their parent: a profile's provenance, an import's row results
(a trigger since migration 0003, not a foreign key), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from profile_ui.models import AttributeProvenance, Profile, utcnow


def _profile_with_provenance(session: Session, name: str) -> int:
    profile = Profile(full_name=name, initial_source="test")
    session.add(profile)
    session.flush()
    for key in ("full_name", "city"):
        session.add(AttributeProvenance(profile_id=profile.id, field_key=key, source_type="manual", set_at=utcnow()))
    session.commit()
    return profile.id


def test_purging_a_profile_removes_its_provenance_and_only_its_own(session):
    gone = _profile_with_provenance(session, "Gone")
    kept = _profile_with_provenance(session, "Kept")

    session.execute(sa.delete(Profile).where(Profile.id == gone))
    session.commit()

    left = session.exec(select(AttributeProvenance.profile_id, AttributeProvenance.field_key)).all()
    assert sorted(left) == [(kept, "city"), (kept, "full_name")]


def test_removing_an_import_job_removes_its_row_results(session):
    from profile_ui.models import ImportJob, ImportRowResult

    jobs = [ImportJob(batch_id=f"b{i}", file_name=f"f{i}.csv", status="completed") for i in range(2)]
    session.add_all(jobs)
    session.flush()
    for job in jobs:
        session.add(ImportRowResult(job_id=job.id, row_number=2, outcome="new"))
    session.commit()

    session.execute(sa.delete(ImportJob).where(ImportJob.id == jobs[0].id))
    session.commit()

    assert session.exec(select(ImportRowResult.job_id)).all() == [jobs[1].id]
