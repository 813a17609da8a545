"""The window planner alone (`sources.windows`): pure, no clock, no I/O. Property-based over
ranges, window sizes and overlaps."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from auditship.sources.windows import (
    EPOCH,
    MINUTE,
    Span,
    Unit,
    ceil_minute,
    floor_minute,
    parse_duration,
    parse_instant,
    parse_unit_name,
    plan_windows,
    units_for,
)
from hypothesis import assume, given
from hypothesis import strategies as st

NOW = datetime(2026, 6, 10, 12, 34, 56, 789000, tzinfo=UTC)

US = timedelta(microseconds=1)


def between(low: datetime, high: datetime) -> st.SearchStrategy[datetime]:
    """Moments in [low, high], to the microsecond (integers: faster than st.datetimes)."""
    return st.integers(0, (high - low) // US).map(lambda us: low + us * US)


# Any moment in UTC (often a whole minute), far enough from the edges of the calendar.
LOW, HIGH = datetime(2001, 1, 1, tzinfo=UTC), datetime(2090, 1, 1, tzinfo=UTC)
moments = st.one_of(between(LOW, HIGH), between(LOW, HIGH).map(floor_minute))
# Window sizes: common ones and odd ones (a grid of 7 minutes is still a grid).
windows = st.one_of(st.sampled_from([1, 5, 15, 60, 360, 1440]), st.integers(1, 3 * 1440)).map(
    lambda m: timedelta(minutes=m)
)
overlaps = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime, timedelta, timedelta]:
    """(start, end, window, overlap) with start < end, at most a few dozen windows long."""
    window = draw(windows)
    start = draw(moments)
    length = draw(st.integers(1, 24 * (window // US)))
    return start, start + length * US, window, draw(overlaps)


def overlap_minutes(overlap: timedelta) -> timedelta:
    """The overlap rounded up to whole minutes (in integers: no float rounding)."""
    micros = overlap // timedelta(microseconds=1)
    return timedelta(minutes=-(-micros // 60_000_000))


def grid_points(first: datetime, last: datetime, window: timedelta) -> set[datetime]:
    """Multiples of `window` since the epoch strictly between `first` and `last`."""
    step = window // MINUTE
    low, high = (first - EPOCH) // MINUTE, (last - EPOCH) // MINUTE
    return {EPOCH + k * MINUTE for k in range((low // step + 1) * step, high, step)}


def aligned(moment: datetime) -> bool:
    return moment.second == 0 and moment.microsecond == 0


# -- plan_windows ---------------------------------------------------------------------------


@given(ranges())
def test_windows_cover_the_minute_aligned_range_without_gaps_on_the_grid(
    case: tuple[datetime, datetime, timedelta, timedelta],
) -> None:
    start, end, window, overlap = case
    spans = plan_windows(start, end, window, overlap)
    first, last = floor_minute(start), ceil_minute(end)
    # THEN the spans cover exactly [floor(start), ceil(end)), one after the other
    assert spans
    assert spans[0].start == first
    assert spans[-1].end == last
    for a, b in itertools.pairwise(spans):
        assert a.end == b.start
    # AND every span is a non-empty stretch of whole minutes, at most a window long (the
    # tail: at most the overlap)
    tail = last - overlap_minutes(overlap)
    inside = first < tail < last
    for span in spans:
        assert aligned(span.start)
        assert aligned(span.end)
        longest = overlap_minutes(overlap) if inside and span.start == tail else window
        assert span.start < span.end <= span.start + longest
    # AND the cuts inside are the grid points before the tail, plus the tail cut when it
    # lies inside: the grid never cuts the tail (its ids are the next run's dedup set)
    stop = tail if inside else last
    expected = grid_points(first, stop, window) | ({tail} if inside else set())
    assert {span.start for span in spans[1:]} == expected


@given(ranges())
def test_the_same_range_is_planned_the_same_way_whatever_its_seconds(
    case: tuple[datetime, datetime, timedelta, timedelta],
) -> None:
    start, end, window, overlap = case
    spans = plan_windows(start, end, window, overlap)
    assert plan_windows(start, end, window, overlap) == spans
    # The planner works in whole minutes: the same minutes give the same windows.
    assert plan_windows(floor_minute(start), ceil_minute(end), window, overlap) == spans


@given(ranges(), st.data())
def test_a_later_run_from_a_grid_point_plans_the_same_interior_windows(
    case: tuple[datetime, datetime, timedelta, timedelta], data: st.DataObject
) -> None:
    """What lets a resumed or repeated run find the done markers of the earlier one."""
    start, end, window, overlap = case
    earlier = plan_windows(start, end, window, overlap)
    points = sorted(grid_points(floor_minute(start) - MINUTE, ceil_minute(end), window))
    assume(points)
    # GIVEN a later run from one of the grid points, to the same end or a later one
    resume = data.draw(st.sampled_from(points))
    later_end = end + data.draw(st.timedeltas(timedelta(0), 5 * window))
    later_overlap = data.draw(overlaps)
    later = plan_windows(resume, later_end, window, later_overlap)
    later_last = later[-1].end
    later_cuts = {s.start for s in later} | {later_last}
    later_tail = later_last - overlap_minutes(later_overlap)
    # THEN every whole grid window of the earlier plan that the later range holds before its
    # tail (the tail is one window, whatever grid lines it spans), and that the tail cut does
    # not cut, is one of the later windows
    for span in earlier:
        on_grid = (span.start - EPOCH) % window == timedelta(0)
        if not on_grid or span.end - span.start != window:
            continue
        if span.start < resume or span.end > min(later_last, max(later_tail, resume)):
            continue
        cut_inside = any(span.start < c < span.end for c in later_cuts)
        assert cut_inside or span in later


def test_a_range_is_cut_on_the_grid_and_its_tail_is_a_window_of_its_own() -> None:
    start = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    end = datetime(2026, 1, 1, 3, 10, 20, tzinfo=UTC)
    hour, ten = timedelta(hours=1), timedelta(minutes=10)
    got = [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in
           plan_windows(start, end, hour, ten)]  # fmt: skip
    # ceil(03:10:20) = 03:11; the tail is the last 10 minutes: 03:01 to 03:11
    assert got == [
        ("00:00", "01:00"),
        ("01:00", "02:00"),
        ("02:00", "03:00"),
        ("03:00", "03:01"),
        ("03:01", "03:11"),
    ]
    # An overlap of part of a minute takes the whole minute.
    tail = plan_windows(start, end, hour, timedelta(seconds=61))[-1]
    assert (tail.start.strftime("%H:%M"), tail.end.strftime("%H:%M")) == ("03:09", "03:11")
    # No overlap, or one longer than the range: no tail cut.
    assert len(plan_windows(start, end, hour, timedelta(0))) == 4
    assert len(plan_windows(start, end, hour, timedelta(days=1))) == 4


@pytest.mark.parametrize(
    "window", [timedelta(0), timedelta(seconds=59), timedelta(seconds=90), -MINUTE]
)
def test_a_window_that_is_not_a_whole_number_of_minutes_is_refused(window: timedelta) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="whole number of minutes"):
        plan_windows(start, start + timedelta(hours=1), window, MINUTE)


@given(moments, st.timedeltas(timedelta(minutes=1), timedelta(days=2)), windows, overlaps)
def test_an_end_a_minute_or_more_before_the_start_plans_nothing(
    start: datetime, back: timedelta, window: timedelta, overlap: timedelta
) -> None:
    assert plan_windows(start, start - back, window, overlap) == []
    assert plan_windows(floor_minute(start), floor_minute(start), window, overlap) == []


@pytest.mark.parametrize("end_second", [30, 10, 1])
def test_an_end_at_or_before_a_start_within_the_same_minute_plans_nothing(
    end_second: int,
) -> None:
    start = datetime(2026, 6, 1, 0, 0, 30, tzinfo=UTC)
    end = start.replace(second=end_second)  # at or before the start
    assert plan_windows(start, end, timedelta(hours=1), timedelta(minutes=10)) == []
    # (It is planned as [00:00, 00:01), with keep_from 00:00:30 and keep_until `end`: a
    # unit that keeps nothing, after which `advance` moves a cursor at 00:00:30 to 00:01.
    # The entry points refuse --until <= --since, but a saved cursor at 00:00:30 and a
    # later --until 00:00:10 still get here.)


# -- units ----------------------------------------------------------------------------------

regions = st.sampled_from(["us-ashburn-1", "eu-frankfurt-1", "ap-tokyo-1", "sa-saopaulo-1"])
compartments = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20).map(
    lambda s: f"ocid1.compartment.oc1..{s}"
)


@given(ranges(), regions, compartments)
def test_only_the_first_and_last_unit_have_edges_and_only_off_the_minute(
    case: tuple[datetime, datetime, timedelta, timedelta], region: str, compartment: str
) -> None:
    start, end, window, overlap = case
    units = units_for("audit", region, compartment, start, end, window, overlap)
    assert [Span(u.start, u.end) for u in units] == plan_windows(start, end, window, overlap)
    for i, unit in enumerate(units):
        first, last = i == 0, i == len(units) - 1
        assert unit.keep_from == (start if first and not aligned(start) else None)
        assert unit.keep_until == (end if last and not aligned(end) else None)
        assert (unit.source, unit.region, unit.compartment) == ("audit", region, compartment)
        assert unit.key == f"{region}/{compartment}"
        no_edges = unit.keep_from is None and unit.keep_until is None
        assert (unit.version == "all") == no_edges


@given(ranges(), st.data())
def test_every_moment_in_the_range_is_kept_by_exactly_one_unit_and_no_other_is(
    case: tuple[datetime, datetime, timedelta, timedelta], data: st.DataObject
) -> None:
    start, end, window, overlap = case
    units = units_for("audit", "r", "c", start, end, window, overlap)
    # GIVEN a record time anywhere around the asked range (its edges included)
    around = between(floor_minute(start) - MINUTE, ceil_minute(end) + MINUTE)
    moment = data.draw(st.one_of(around, st.sampled_from([start, end, end - timedelta.resolution])))
    # THEN the unit whose window holds it keeps it exactly when it is in [start, end)
    keeping = [u for u in units if u.start <= moment < u.end and u.keeps(moment)]
    assert len(keeping) == (1 if start <= moment < end else 0)
    # AND a record without a time is kept by every unit (nothing to test it against)
    assert all(u.keeps(None) for u in units)


@given(st.one_of(st.none(), moments), st.one_of(st.none(), moments), moments)
def test_a_unit_keeps_exactly_the_records_in_its_edges(
    keep_from: datetime | None, keep_until: datetime | None, moment: datetime
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    unit = Unit("audit", "r", "c", start, start + MINUTE, keep_from, keep_until)
    after_from = keep_from is None or moment >= keep_from
    before_until = keep_until is None or moment < keep_until
    assert unit.keeps(moment) == (after_from and before_until)
    if keep_from is not None:
        assert unit.keeps(keep_from) == (keep_until is None or keep_from < keep_until)
    if keep_until is not None:
        assert not unit.keeps(keep_until)


# Edges as the API's records carry them: milliseconds.
ms_moments = moments.map(lambda m: m.replace(microsecond=m.microsecond // 1000 * 1000))
edges = st.tuples(st.one_of(st.none(), ms_moments), st.one_of(st.none(), ms_moments))


@given(edges, edges)
def test_units_with_other_edges_have_other_versions(
    a: tuple[datetime | None, datetime | None], b: tuple[datetime | None, datetime | None]
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ua = Unit("audit", "r", "c", start, start + MINUTE, *a)
    ub = Unit("audit", "r", "c", start, start + MINUTE, *b)
    assert (ua.version == ub.version) == (a == b)
    assert ua.name == ub.name  # the same window: told apart by the version only
    if a != (None, None):
        assert ua.version.startswith("edge-")


def test_a_unit_from_the_start_and_one_until_the_same_moment_differ() -> None:
    start, edge = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    keeps_after = Unit("audit", "r", "c", start, start + MINUTE, keep_from=edge)
    keeps_before = Unit("audit", "r", "c", start, start + MINUTE, keep_until=edge)
    assert keeps_after.version != keeps_before.version


def test_edges_less_than_a_millisecond_apart_give_other_versions() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    at = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    later = at + timedelta(microseconds=500)
    exact = Unit("audit", "r", "c", start, start + MINUTE, keep_from=at)
    inexact = Unit("audit", "r", "c", start, start + MINUTE, keep_from=later)
    assert exact.keeps(at) != inexact.keeps(at)  # they keep different records
    assert exact.version != inexact.version


@given(ranges(), regions, compartments)
def test_unit_names_parse_back_and_sort_by_time(
    case: tuple[datetime, datetime, timedelta, timedelta], region: str, compartment: str
) -> None:
    start, end, window, overlap = case
    units = units_for("audit", region, compartment, start, end, window, overlap)
    for unit in units:
        source, _, rest = unit.name.partition("/")
        assert source == "audit"
        assert parse_unit_name(rest) == (region, compartment, unit.start, unit.end)
    names = [u.name for u in units]
    assert sorted(names) == names


@pytest.mark.parametrize(
    "name",
    [
        "",
        "region",
        "region/compartment",
        "region/compartment/20260101T0000Z",
        "region/compartment/20260101T0000Z-",
        "region/compartment/2026-01-01-2026-01-02",
        "region/compartment/20260101T0000Z-20260101T0100Z/extra",
        "region/compartment/20261301T0000Z-20260101T0100Z",
    ],
)
def test_a_name_that_is_not_a_unit_parses_to_none(name: str) -> None:
    assert parse_unit_name(name) is None


# -- parse_duration / parse_instant -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("36h", timedelta(hours=36)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d 12h", timedelta(days=1, hours=12)),
        (" 10M ", timedelta(minutes=10)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
    ],
)
def test_durations_are_read(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_instant(text, NOW) == NOW - expected


SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from("smhdwSMHDW")), min_size=1,
                max_size=5), st.sampled_from(["", " "]))  # fmt: skip
def test_any_sequence_of_amounts_and_units_is_their_sum(
    parts: list[tuple[int, str]], joiner: str
) -> None:
    text = joiner.join(f"{n}{u}" for n, u in parts)
    expected = timedelta(seconds=sum(n * SECONDS[u.lower()] for n, u in parts))
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "abc", "10", "m", "10x", "-10m", "1.5h", "10m junk", "ten minutes", "h10"]
)
def test_junk_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T00:00:00Z", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-01t00:00:00z", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-01T00:00:00.123Z", datetime(2026, 6, 1, 0, 0, 0, 123000, tzinfo=UTC)),
        ("2026-06-01T02:30:00+02:00", datetime(2026, 6, 1, 0, 30, tzinfo=UTC)),
        ("2026-05-31T19:00:00-05:00", datetime(2026, 6, 1, 0, 0, tzinfo=UTC)),
        ("2026-06-01T00:00:00+00:00", datetime(2026, 6, 1, tzinfo=UTC)),
        (" 2026-06-01T00:00:00Z ", datetime(2026, 6, 1, tzinfo=UTC)),
    ],
)
def test_rfc3339_times_are_read_in_utc(text: str, expected: datetime) -> None:
    got = parse_instant(text, NOW)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


@given(moments, st.integers(-14 * 60, 14 * 60))
def test_a_time_with_any_offset_is_the_same_instant_in_utc(moment: datetime, minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    got = parse_instant(local.isoformat(), NOW)
    assert got == moment
    assert got.tzinfo is UTC


@pytest.mark.parametrize("text", ["2026-06-01T00:00:00", "2026-06-01", "2026-06-01 12:00"])
def test_a_time_without_a_zone_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_instant(text, NOW)


@pytest.mark.parametrize(
    "text", ["", "   ", "yesterday", "10", "2026-13-01T00:00:00Z", "2026-06-01T25:00Z", "5-"]
)
def test_junk_is_not_an_instant(text: str) -> None:
    with pytest.raises(ValueError, match=r"not an RFC 3339 time|nor a duration"):
        parse_instant(text, NOW)
