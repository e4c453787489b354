"""Tags and consent in a plan: the tags each person should carry (the file's chosen tags and
its tags column), what to add, what a replace removes, new tag names, and the consent
statuses to write.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col, select

from ...models import Consent, ProfileTag, Tag, TagGroup
from . import ImportOptions
from .reports import ImportPlanError
from .resolve import in_batches, in_filter

_TAG_REMOVABLE_POLICY = "overwrite"  # a batch tag whose owner let later data replace it
_TAG_KEEP_POLICY = "ignore"


@dataclass
class TagPlan:
    adds: pl.DataFrame
    removes: pl.DataFrame
    new_names: list[str]
    removed: pl.DataFrame  # the removed tags' rows, for undo


def _removable(policy: pl.Expr, source: pl.Expr) -> pl.Expr:
    """May data from a file replace this tag? Batch tags say so by their policy; a plain
    manual tag is a person's decision and stays; tags that earlier imports set may go."""
    return (
        pl.when(policy == _TAG_KEEP_POLICY)
        .then(False)
        .when(policy == _TAG_REMOVABLE_POLICY)
        .then(True)
        .otherwise(source.ne_missing("manual"))
    )


def plan_tags(session: Session, applied: pl.DataFrame, options: ImportOptions) -> TagPlan:
    add_schema = {"person": pl.Int64, "tag_id": pl.Int64, "tag_name": pl.Utf8, "value": pl.Utf8}
    empty = TagPlan(
        pl.DataFrame(schema=add_schema),
        pl.DataFrame(schema={"id": pl.Int64}),
        [],
        pl.DataFrame(schema={"person": pl.Int64}),
    )
    has_column = applied["tags_present"].any() if applied.height else False
    if not options.tag_ids and not has_column:
        return empty
    file_tags = session.exec(select(Tag).where(col(Tag.id).in_(options.tag_ids))).all() if options.tag_ids else []
    unknown = set(options.tag_ids) - {t.id for t in file_tags}
    if unknown:
        raise ImportPlanError(f"tag {', '.join(map(str, sorted(unknown)))} does not exist")
    group = session.exec(select(TagGroup).where(TagGroup.name == options.tags_group)).first()
    group_tags = {t.name: t for t in session.exec(select(Tag).where(Tag.group_id == group.id)).all()} if group else {}

    # what each person should carry
    wanted_parts = []
    if file_tags:
        wanted_parts.append(
            applied.select("person").join(
                pl.DataFrame(
                    {
                        "tag_id": [t.id for t in file_tags],
                        "tag_name": [t.name for t in file_tags],
                        "value": [options.tag_value] * len(file_tags),
                        "single": [t.kind != "multi" for t in file_tags],
                        "from_column": [False] * len(file_tags),
                    },
                    schema={
                        "tag_id": pl.Int64,
                        "tag_name": pl.Utf8,
                        "value": pl.Utf8,
                        "single": pl.Boolean,
                        "from_column": pl.Boolean,
                    },
                ),
                how="cross",
            )
        )
    column_names: list[str] = []
    if has_column:
        tag_cells = (
            applied.filter(pl.col("tags_present"))
            .select("person", "tags")
            .explode("tags")
            .drop_nulls("tags")
            .with_columns(pl.col("tags").str.strip_chars())
            .filter(pl.col("tags") != "")
        )
        column_names = tag_cells["tags"].unique(maintain_order=True).to_list()
        ids = {n: group_tags[n].id for n in column_names if n in group_tags}
        wanted_parts.append(
            tag_cells.select(
                "person",
                tag_id=pl.col("tags").replace_strict(ids, default=None, return_dtype=pl.Int64),
                tag_name=pl.col("tags"),
                value=pl.lit(""),
                single=pl.lit(False),
                from_column=pl.lit(True),
            )
        )
    wanted = pl.concat(wanted_parts).unique(["person", "tag_id", "tag_name", "value"], maintain_order=True)
    new_names = [n for n in column_names if n not in group_tags]

    # what existing profiles carry now (only the tags this file deals with)
    targets = applied.filter(pl.col("target").is_not_null()).select("person", "target")
    relevant = [t.id for t in file_tags] + [t.id for t in group_tags.values()]
    pt = ProfileTag
    rows = (
        in_batches(
            session,
            targets["target"].unique().to_list(),
            lambda bound: sa.select(
                col(pt.id),
                col(pt.profile_id),
                col(pt.tag_id),
                col(pt.value),
                col(pt.source),
                col(pt.policy),
                col(pt.created_by),
                col(pt.created_at),
                col(pt.import_job_id),
            ).where(in_filter(col(pt.profile_id), bound), col(pt.tag_id).in_(relevant)),
        )
        if relevant and targets.height
        else []
    )
    have = pl.DataFrame(
        rows,
        orient="row",
        schema={
            "id": pl.Int64,
            "target": pl.Int64,
            "tag_id": pl.Int64,
            "value": pl.Utf8,
            "source": pl.Utf8,
            "policy": pl.Utf8,
            "created_by": pl.Int64,
            "created_at": pl.Datetime("us", "UTC"),
            "import_job_id": pl.Int64,
        },
    ).join(targets, on="target")
    have = have.with_columns(removable=_removable(pl.col("policy"), pl.col("source")))

    # adds: wanted but not carried; a single-value tag with another value is replaced only
    # where the existing value may be replaced
    adds = wanted.join(have.select("person", "tag_id", "value"), on=["person", "tag_id", "value"], how="anti")
    other_value = have.join(
        wanted.filter(pl.col("single")).select("person", "tag_id", new_value="value"), on=["person", "tag_id"]
    ).filter(pl.col("value") != pl.col("new_value"))
    blocked = other_value.filter(~pl.col("removable")).select("person", "tag_id").unique()
    adds = adds.join(blocked, on=["person", "tag_id"], how="anti")
    removes = other_value.filter(pl.col("removable")).drop("new_value")
    if options.tags_mode == "replace" and has_column and group_tags:
        present = applied.filter(pl.col("tags_present")).select("person")
        group_ids = [t.id for t in group_tags.values()]
        stale = (
            have.join(present, on="person")
            .filter(pl.col("tag_id").is_in(group_ids))
            .join(
                wanted.filter(pl.col("from_column")).select("person", "tag_id", "value"),
                on=["person", "tag_id", "value"],
                how="anti",
            )
            .filter(pl.col("removable"))
        )
        removes = pl.concat([removes, stale.select(removes.columns)]).unique("id")
    elif options.tags_mode not in ("append", "replace"):
        raise ImportPlanError(f"unknown tags mode '{options.tags_mode}' (expected append or replace)")

    return TagPlan(
        adds.select(list(add_schema)),
        removes.select("id"),
        new_names,
        removes.select("person", "tag_id", "value", "source", "policy", "created_by", "created_at", "import_job_id"),
    )


# ---------------------------------------------------------------------- consent
def plan_consent(session: Session, applied: pl.DataFrame, options: ImportOptions) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Consent rows to write (person, channel, status) and the changes on existing profiles."""
    schema = {"person": pl.Int64, "channel": pl.Utf8, "status": pl.Utf8}
    if not options.consent or applied.is_empty():
        return pl.DataFrame(schema=schema), pl.DataFrame(schema={"person": pl.Int64})
    wanted = applied.select("person", "target").join(
        pl.DataFrame({"channel": list(options.consent), "status": list(options.consent.values())}), how="cross"
    )
    targets = applied["target"].drop_nulls().unique().to_list()
    c = Consent
    rows = (
        in_batches(
            session,
            targets,
            lambda bound: sa.select(col(c.profile_id), col(c.channel), col(c.status)).where(
                in_filter(col(c.profile_id), bound), col(c.channel).in_(list(options.consent))
            ),
        )
        if targets
        else []
    )
    have = pl.DataFrame(rows, orient="row", schema={"target": pl.Int64, "channel": pl.Utf8, "before": pl.Utf8})
    diff = wanted.join(have, on=["target", "channel"], how="left").filter(pl.col("before").ne_missing(pl.col("status")))
    changes = diff.filter(pl.col("target").is_not_null()).select("person", "channel", "before", "status")
    return diff.select(list(schema)), changes
