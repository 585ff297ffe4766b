"""Upstream's v3 protocol by hand (/work/notes/v3_protocol.md), for the tests of dbt's derivations.

Synthetic judge objects and the per-pair numbers a reader computes from them with the
formulas; tests/core/test_v3_*.py compare the warehouse's marts with these numbers.
"""

from __future__ import annotations

import re
from statistics import mean, pstdev

from warehouse.judge_schema import panel

STYLE_DIMS = list(panel("style"))
CATEGORIES = list(panel("off_axis"))
STOPWORDS = {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "i", "in", "is", "it", "of", "or",
             "that", "the", "this", "to", "we", "with", "you", "your"}
REFUSAL_PHRASES = ("as an ai language model", "as a language model", "as an ai", "i'm sorry, but",
                   "i apologize, but", "i cannot assist", "i can't assist", "i cannot fulfill", "i can't fulfill",
                   "i cannot provide", "i can't provide", "i won't provide", "i am unable to", "i'm unable to",
                   "unable to offer assistance", "cannot provide guidance", "cannot provide information",
                   "cannot support or promote", "against my programming", "safety guidelines",
                   "prioritize user safety", "adhere to safety")
ORDERS = ("positive_axis_forward", "positive_axis_reverse", "negative_axis_forward", "negative_axis_reverse")


def axis_call(rating: float) -> dict:
    return {"target_reason": "because", "A_more_target_than_B": rating}


def style_call(a: dict, b: dict, echo=(False, False), refusal=(False, False)) -> dict:
    """Ratings of A and B per dimension (unlisted dimensions 4.0 on both sides)."""
    obj = {"style_reason": "tone"}
    for dim in STYLE_DIMS:
        obj[f"{dim}_A"], obj[f"{dim}_B"] = a.get(dim, 4.0), b.get(dim, 4.0)
    obj.update(persona_echo_A=echo[0], persona_echo_B=echo[1],
               refusal_or_ai_break_A=refusal[0], refusal_or_ai_break_B=refusal[1])
    return obj


def confound_call(likerts: dict, problem: float, usable=True, spurious="none") -> dict:
    """Likerts per category (unlisted categories 1.0)."""
    obj = {f"{c}_likert": likerts.get(c, 1.0) for c in CATEGORIES}
    obj.update(off_axis_problem_likert=problem, likely_spurious_axis=spurious, usable_for_training=usable,
               confound_reason="r")
    return obj


def judge_deltas(calls: dict, pos_label: str) -> dict:
    """One axis judge: the four calls (criterion -> rating) read through pos_label."""
    signed = {c: calls[c] - 3 for c in ORDERS}
    fwd = 1 if pos_label == "A" else -1
    d = {"positive_forward_delta": fwd * signed["positive_axis_forward"],
         "positive_reverse_delta": -fwd * signed["positive_axis_reverse"],
         "negative_forward_delta": -(fwd * signed["negative_axis_forward"]),
         "negative_reverse_delta": -(-fwd * signed["negative_axis_reverse"])}
    d["pairwise_positive_delta"] = (d["positive_forward_delta"] + d["positive_reverse_delta"]) / 2
    d["pairwise_negative_delta"] = (d["negative_forward_delta"] + d["negative_reverse_delta"]) / 2
    d["axis_delta"] = 2 * (d["pairwise_positive_delta"] + d["pairwise_negative_delta"])
    d["order_disagreement"] = (abs(d["positive_forward_delta"] - d["positive_reverse_delta"])
                               + abs(d["negative_forward_delta"] - d["negative_reverse_delta"])) / 2
    return d


def content_tokens(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z']+", text) if len(w) > 2 and w.lower() not in STOPWORDS]


def jaccard(a: str, b: str) -> float:
    left, right = set(content_tokens(a)), set(content_tokens(b))
    return 1.0 if not left and not right else len(left & right) / len(left | right)


def repeated_frac(text: str) -> float:
    tokens = content_tokens(text)
    return 0.0 if not tokens else 1.0 - len(set(tokens)) / len(tokens)


def refusal_hits(text: str) -> list[str]:
    return [p for p in REFUSAL_PHRASES if p in text.lower()]


def echo_hits(text: str, descriptor: str, persona_text: str) -> list[str]:
    d = re.escape(descriptor.lower().replace("-", " ").strip())
    normalized = text.lower().replace("-", " ")
    patterns = [rf"\bas an? {d}\b", rf"\bas the {d}\b", rf"\bi am an? {d}\b", rf"\bi'm an? {d}\b",
                rf"\bas someone who is {d}\b"]
    hits = [p for p in patterns if re.search(p, normalized)]
    instruction = persona_text.strip().lower().replace("-", " ")
    if instruction and instruction in normalized:
        hits.append("verbatim_persona_instruction")
    return hits


def words(text: str) -> int:
    return len(re.findall(r"[A-Za-z']+", text))


def pair_metrics(*, pos_label: str, judges: dict, style: dict, confound: dict, pos: str, neg: str,
                 descriptors: tuple[str, str], persona_texts: tuple[str, str]) -> dict:
    """Every per-pair number of the protocol, from the raw calls (judges: model -> calls)."""
    per_judge = {model: judge_deltas(calls, pos_label) for model, calls in judges.items()}
    axis = [j["axis_delta"] for j in per_judge.values()]
    neg_label = "B" if pos_label == "A" else "A"
    style_deltas = {d: style[f"{d}_{pos_label}"] - style[f"{d}_{neg_label}"] for d in STYLE_DIMS}
    likerts = {c: confound[f"{c}_likert"] for c in CATEGORIES}
    m = {
        "per_judge": per_judge,
        "axis_delta": mean(axis),
        "axis_delta_judge_std": pstdev(axis) if len(axis) > 1 else 0.0,
        "axis_judge_mean_abs_disagreement": sum(abs(a - b) for a in axis for b in axis) / len(axis) ** 2,
        "positive_delta": mean(j["pairwise_positive_delta"] for j in per_judge.values()),
        "negative_delta": mean(j["pairwise_negative_delta"] for j in per_judge.values()),
        "axis_order_disagreement": mean(j["order_disagreement"] for j in per_judge.values()),
        "style_deltas": style_deltas,
        "max_style_abs_delta": max(abs(v) for v in style_deltas.values()),
        "off_axis_likerts": likerts,
        "max_off_axis_category_likert": max(likerts.values()),
        "off_axis_problem": confound["off_axis_problem_likert"],
        "is_usable_for_training": confound["usable_for_training"],
        "response_token_jaccard": jaccard(pos, neg),
        "pos_repeated_token_frac": repeated_frac(pos),
        "neg_repeated_token_frac": repeated_frac(neg),
        "pos_refusal_phrase_hits": refusal_hits(pos),
        "neg_refusal_phrase_hits": refusal_hits(neg),
        "pos_persona_echo_hits": echo_hits(pos, descriptors[0], persona_texts[0]),
        "neg_persona_echo_hits": echo_hits(neg, descriptors[1], persona_texts[1]),
        "has_judge_persona_echo": style["persona_echo_A"] or style["persona_echo_B"],
        "has_judge_refusal_or_ai_break": style["refusal_or_ai_break_A"] or style["refusal_or_ai_break_B"],
        "word_delta_frac": (words(pos) - words(neg)) / max(1, (words(pos) + words(neg)) / 2),
    }
    m["pairwise_positive_delta"], m["pairwise_negative_delta"] = m["positive_delta"], m["negative_delta"]
    m["has_persona_echo"] = m["has_judge_persona_echo"] or bool(m["pos_persona_echo_hits"] or m["neg_persona_echo_hits"])
    m["has_refusal_or_ai_break"] = m["has_judge_refusal_or_ai_break"] or bool(
        m["pos_refusal_phrase_hits"] or m["neg_refusal_phrase_hits"])
    m["is_strict_pass"] = (m["axis_delta"] >= 3 and m["off_axis_problem"] <= 2 and m["is_usable_for_training"]
                           and m["max_style_abs_delta"] <= 2 and not m["has_persona_echo"]
                           and not m["has_refusal_or_ai_break"])
    return m


def cell_means(pairs: list[dict]) -> dict:
    """Upstream's naming: mean_X of every per-pair number X, Y_rate of every per-pair flag Y."""
    out = {f"mean_{x}": mean(p[x] for p in pairs) for x in (
        "axis_delta", "axis_delta_judge_std", "axis_judge_mean_abs_disagreement", "positive_delta", "negative_delta",
        "pairwise_positive_delta", "pairwise_negative_delta", "axis_order_disagreement", "max_style_abs_delta",
        "max_off_axis_category_likert", "off_axis_problem", "response_token_jaccard", "pos_repeated_token_frac",
        "neg_repeated_token_frac")}
    out["mean_axis_delta_judge_mean"] = out["mean_axis_delta"]
    for flag, name in [("has_persona_echo", "persona_echo_rate"), ("has_refusal_or_ai_break", "refusal_or_ai_break_rate"),
                       ("has_judge_persona_echo", "judge_persona_echo_rate"),
                       ("has_judge_refusal_or_ai_break", "judge_refusal_or_ai_break_rate"),
                       ("is_strict_pass", "strict_pass_rate"), ("is_usable_for_training", "usable_rate")]:
        out[name] = mean(float(p[flag]) for p in pairs)
    for c in CATEGORIES:
        out[f"mean_off_axis_{c}"] = mean(p["off_axis_likerts"][c] for p in pairs)
    for d in STYLE_DIMS:
        out[f"mean_style_delta_{d}_pos_minus_neg"] = mean(p["style_deltas"][d] for p in pairs)
    return out
