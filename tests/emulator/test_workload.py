"""The simulated workload: quota pools, ids, aggregates and costs are consistent."""

from __future__ import annotations

import re

import numpy as np
import pytest

from collector.emulator import Workload, WorkloadConfig
from collector.emulator.billing import bill_rows, round_cents
from collector.emulator.truth import build_truth
from collector.emulator.workload import MINUTE_MS, atoms_of, guid_of, request_id_of
from tests.emulator.conftest import END

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _workload(days: float = 1.0) -> Workload:
    return Workload(WorkloadConfig(seed=3, days=days, end=END))


def test_throttling_hits_every_deployment_of_the_model_in_the_same_minutes() -> None:
    w = _workload()
    req = w.requests(w.start_ms, w.end_ms)
    sonnet = [
        d.index
        for d in w.deployments
        if d.model.id == "claude-sonnet-4-5" and d.version == d.model.version
    ]
    assert len(sonnet) == 3  # two accounts, one custom name (the version-1 one aside)
    minutes = [
        set((req.ts_ms[(req.dep == d) & (req.status == 429)] // MINUTE_MS).tolist()) for d in sonnet
    ]
    assert all(minutes)
    shared = set.intersection(*minutes)
    assert len(shared) >= 0.3 * min(len(m) for m in minutes)


def test_tokens_only_on_successful_requests_and_only_sonnet_prompts_exceed_200k() -> None:
    w = _workload()
    req = w.requests(w.start_ms, w.end_ms)
    failed = req.status != 200
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_write_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
        "cache_read_tokens",
        "ttft_ms",
    ):
        assert not getattr(req, name)[failed].any(), name
    prompt = req.input_tokens.astype(np.int64) + req.cache_write_tokens + req.cache_read_tokens
    ok = ~failed
    long = ok & (prompt > 200_000)
    assert (req.context[ok] == long[ok]).all()
    sonnet = np.isin(req.dep, [d.index for d in w.deployments if d.model.id == "claude-sonnet-4-5"])
    assert long.any() and not (long & ~sonnet).any()
    assert 0.003 < long[sonnet].mean() < 0.03  # a small share of Sonnet's requests
    assert prompt.max() <= 1_000_000
    assert req.cache_read_tokens.sum() > 0 and req.cache_write_tokens.sum() > 0
    assert set(np.unique(req.status).tolist()) >= {200, 400, 429, 500, 529}


def test_cache_writes_split_by_ttl_and_only_anthropic_requests_use_the_cache() -> None:
    w = _workload()
    req = w.requests(w.start_ms, w.end_ms)
    cw5 = req.cache_write_5m_tokens.astype(np.int64)
    cw1 = req.cache_write_1h_tokens.astype(np.int64)
    assert (cw5 + cw1 == req.cache_write_tokens).all()
    assert not ((cw5 > 0) & (cw1 > 0)).any()  # a request writes with one TTL
    writers = (cw5 + cw1) > 0
    assert 0.1 < (cw1 > 0)[writers].mean() < 0.3  # about 20 % use the 1-hour TTL
    gpt = np.isin(req.dep, [d.index for d in w.deployments if not d.model.anthropic])
    assert gpt.sum() > 500 and (req.status[gpt] == 200).mean() > 0.98  # no shared quota pool
    assert not req.cache_write_tokens[gpt].any() and not req.cache_read_tokens[gpt].any()
    assert not req.context[gpt].any()
    assert req.input_tokens[gpt].sum() > 0


def test_time_to_first_token_is_below_the_duration() -> None:
    w = _workload()
    req = w.requests(w.start_ms, w.end_ms)
    ok = req.status == 200
    assert (req.ttft_ms[ok] > 0).all()
    assert (req.ttft_ms[ok] < req.duration_ms[ok]).all()


def test_latency_grows_with_output_tokens_and_429s_are_fast() -> None:
    w = _workload()
    req = w.requests(w.start_ms, w.end_ms)
    ok = req.status == 200
    corr = np.corrcoef(req.output_tokens[ok], req.duration_ms[ok])[0, 1]
    assert corr > 0.5
    assert req.duration_ms[req.status == 429].max() < 100


def test_ids_look_like_azure_and_anthropic_ids() -> None:
    w = _workload(0.1)
    req = w.requests(w.start_ms, w.end_ms)
    guids = {guid_of(p) for p in req.apim_id}
    assert len(guids) == len(req)
    assert all(GUID.match(g) for g in list(guids)[:500])
    rid = request_id_of(req.request_id[0])
    assert re.match(r"^req_[0-9A-Za-z]{24}$", rid)


def test_atoms_sum_to_the_requests() -> None:
    w = _workload()
    req = w.requests(w.start_ms, w.end_ms)
    atoms = atoms_of(req)
    assert atoms.count.sum() == len(req)
    assert atoms.input_sum.sum() == req.input_tokens.astype(np.int64).sum()
    assert atoms.duration_max.max() == req.duration_ms.max()
    assert atoms.cache_write_5m_sum.sum() == req.cache_write_5m_tokens.astype(np.int64).sum()
    assert atoms.cache_write_1h_sum.sum() == req.cache_write_1h_tokens.astype(np.int64).sum()
    assert atoms.ttft_sum.sum() == req.ttft_ms.astype(np.int64).sum()
    assert atoms.ttft_max.max() == req.ttft_ms.max()
    long = atoms.context == 1
    assert long.any() and atoms.count[long].sum() == (req.context == 1).sum()


def test_weekday_and_daytime_traffic_is_heavier() -> None:
    w = Workload(WorkloadConfig(seed=3, days=7, end=END))
    per_day = [int(w.day_atoms(d).count.sum()) for d in w.days()[1:-1]]
    assert max(per_day) > 1.8 * min(per_day)  # the weekend
    assert 50_000 < max(per_day) < 150_000


def test_billed_is_the_true_cost_rounded_to_the_cent_with_a_lower_preliminary() -> None:
    w = _workload(3)
    truth = build_truth(w)
    for row in bill_rows(w):
        if row.marketplace:
            assert row.final_cents == round_cents(row.true_cost_units)
            assert 0.96 * row.final_cents - 1 <= row.preliminary_cents < row.final_cents
    for bill in truth["billed"]:
        deps = [
            d
            for d in truth["deployments"]
            if d["resource"] == bill["resource"] and d["model_format"] == "Anthropic"
        ]
        true = sum(day["true_cost"] for d in deps for day in d["days"] if day["day"] == bill["day"])
        # each charge (a model's SaaS resource, or one legacy meter) is rounded on its own
        assert abs(true - bill["cost"]) <= 0.005 * len(bill["charges"]) + 1e-9
        assert bill["cost"] == pytest.approx(sum(c["cost"] for c in bill["charges"]))
    for dep in truth["deployments"]:
        for day in dep["days"]:
            assert day["estimated_cost"] <= day["true_cost"]
            parts = day["true_cost_parts"]
            assert set(parts) == {
                "input",
                "output",
                "cache_write_5m",
                "cache_write_1h",
                "cache_read",
            }
            assert abs(sum(parts.values()) - day["true_cost"]) < 1e-6


def test_live_workload_has_no_end_and_serves_up_to_now() -> None:
    w = Workload(WorkloadConfig(seed=3, days=0.05, end=None))
    assert w.end is None
    req = w.requests(w.start_ms, w.start_ms + 3 * 3_600_000)
    assert len(req) > 0 and req.ts_ms.min() >= w.start_ms
