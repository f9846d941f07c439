"""Bundled sample data for the offline quick start (``make run``).

Writes a realistic, deterministic set of snapshots into a folder (normally PAPERS_HOME/landing):
five listing days of API JSON in the current API shape — two captures for the most recent days, as
upvotes rise and late papers join — one empty weekend listing, and one page-text snapshot of the
listing page whose cards partly repeat API papers (so identity resolution has work to do).
The same seed always writes the same bytes, so running it twice yields duplicates, not new data.

Usage: python -m orchestration.sample_data FOLDER
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

SEED = 20251104
FIRST_NAMES = ["Wei", "Ana", "Lukas", "Priya", "Jun", "Sofia", "Omar", "Mei", "Daniel", "Yuki", "Chen",
               "Fatima", "Pavel", "Laura", "Arjun", "Hana", "Mateo", "Ines", "Kofi", "Elena", "Tomás", "Zhang"]
LAST_NAMES = ["Li", "García", "Müller", "Sharma", "Kim", "Rossi", "Haddad", "Wang", "Cohen", "Tanaka",
              "Liu", "Okafor", "Novak", "Dubois", "Patel", "Sato", "Silva", "Costa", "Mensah", "Ivanova"]
ORGS = ["Qwen", "ByteDance-Seed", "nvidia", "meta-llama", "google", "allenai", "mistralai", "tencent", None, None]
TOPICS = [
    ("Reasoning", ["chain-of-thought", "reasoning", "large language models", "test-time scaling"],
     "{x}: Test-Time Scaling for Multi-Step Reasoning in Large Language Models"),
    ("Agents", ["agents", "tool use", "web navigation", "planning"],
     "{x}: Tool-Using Agents that Plan Across Long Web Tasks"),
    ("Diffusion", ["diffusion models", "video generation", "text-to-image", "latent space"],
     "{x}: Minute-Long Video Generation with Autoregressive Diffusion"),
    ("Quant", ["quantization", "low-bit", "inference efficiency", "compression"],
     "{x}: 2-Bit Quantization of Large Language Models without Retraining"),
    ("Multimodal", ["vision-language models", "multimodal", "visual question answering", "OCR"],
     "{x}: A Vision-Language Model for Documents, Charts and Screens"),
    ("RLHF", ["reinforcement learning", "RLHF", "reward model", "preference optimization"],
     "{x}: Reward Models that Generalize for RLHF Alignment"),
    ("RAG", ["retrieval-augmented generation", "retrieval", "embeddings", "long documents"],
     "{x}: Retrieval-Augmented Generation over Million-Token Corpora"),
    ("Speech", ["speech recognition", "text-to-speech", "audio", "speech synthesis"],
     "{x}: Streaming Speech Synthesis with Sub-100ms Latency"),
    ("Robot", ["robotics", "embodied agents", "manipulation", "imitation learning"],
     "{x}: Generalist Robot Manipulation from Human Videos"),
    ("Mesh", ["3D reconstruction", "Gaussian splatting", "neural rendering", "mesh generation"],
     "{x}: Feed-Forward 3D Gaussian Splatting from a Single Image"),
    ("Bench", ["benchmark", "evaluation", "leaderboard", "LLM-as-a-judge"],
     "{x}: A Contamination-Free Benchmark for Evaluating Code and Math"),
    ("Code", ["code generation", "software engineering", "program repair", "unit tests"],
     "{x}: Repository-Level Code Generation with Execution Feedback"),
    ("Math", ["mathematical reasoning", "theorem proving", "Lean", "math word problems"],
     "{x}: Formal Theorem Proving in Lean with Self-Play"),
    ("Safe", ["safety", "jailbreak", "machine unlearning", "privacy"],
     "{x}: Machine Unlearning that Survives Jailbreak Attacks"),
    ("Attn", ["long context", "sparse attention", "KV cache", "linear attention"],
     "{x}: Sparse Attention for 1M-Token Context at Constant Memory"),
    ("Bio", ["protein design", "medical imaging", "drug discovery", "scientific discovery"],
     "{x}: Foundation Models for Protein Design and Drug Discovery"),
]
NAMES = ["Atlas", "Nova", "Orion", "Lumen", "Vega", "Helix", "Quill", "Sable", "Tessera", "Kite", "Arbor",
         "Cinder", "Drift", "Echo", "Fathom", "Gale", "Harbor", "Iris", "Juniper", "Kestrel", "Lattice",
         "Mosaic", "Nimbus", "Onyx", "Prism", "Quartz", "Rune", "Spruce", "Tundra", "Umbra"]


def _abstract(rng: random.Random, keywords: list[str], title: str) -> str:
    k = keywords
    return (f"Recent progress in {k[0]} has been limited by {k[1]} at scale. We introduce "
            f"{title.split(':')[0]}, a method that combines {k[2]} with {k[3]} and is trained on "
            f"{rng.randint(2, 90)}B tokens of curated data. Across {rng.randint(5, 20)} benchmarks it "
            f"improves over strong baselines by {rng.randint(2, 19)}.{rng.randint(0, 9)} points while "
            f"using {rng.randint(2, 8)}x less compute. We release code, models and data to support "
            f"future research on {k[0]}.")


def _paper(rng: random.Random, listing: date, pool_index: int) -> dict:
    tag, keywords, pattern = TOPICS[pool_index % len(TOPICS)]
    name = NAMES[(pool_index * 7 + listing.toordinal()) % len(NAMES)]
    title = pattern.format(x=f"{name}{'' if pool_index < len(TOPICS) else '-' + str(pool_index)}")
    team = max(1, min(40, int(rng.lognormvariate(1.8, 0.7))))
    authors = [{"_id": f"{rng.getrandbits(96):024x}", "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "hidden": rng.random() < 0.05} for _ in range(team)]
    published = datetime.combine(listing - timedelta(days=rng.randint(1, 3)), datetime.min.time(),
                                 tzinfo=timezone.utc) + timedelta(hours=rng.randint(0, 23))
    arxiv = f"{listing:%y%m}.{rng.randint(1000, 29999):05d}"
    org = rng.choice(ORGS)
    org_obj = {"_id": f"{rng.getrandbits(96):024x}", "name": org, "fullname": org, "avatar": ""} if org else None
    paper = {
        "id": arxiv, "authors": authors, "publishedAt": published.isoformat().replace("+00:00", "Z"),
        "submittedOnDailyAt": datetime.combine(listing, datetime.min.time(), tzinfo=timezone.utc)
        .isoformat().replace("+00:00", "Z"), "title": title, "summary": _abstract(rng, keywords, title),
        "upvotes": 0, "discussionId": f"{rng.getrandbits(96):024x}", "ai_summary": f"{title.split(':')[0]} advances {keywords[0]}.",
        "ai_keywords": keywords + rng.sample(["transformers", "scaling laws", "fine-tuning", "datasets"], 2),
        "githubRepo": f"https://github.com/example/{name.lower()}" if rng.random() < 0.6 else None,
        "githubStars": rng.randint(0, 900) if rng.random() < 0.5 else None,
    }
    if org_obj:
        paper["organization"] = org_obj
    record = {"paper": paper, "publishedAt": paper["publishedAt"], "title": title, "summary": paper["summary"],
              "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv}.png",
              "numComments": 0, "submittedBy": {"name": rng.choice(LAST_NAMES).lower(), "type": "user"},
              "isAuthorParticipating": rng.random() < 0.3}
    if org_obj:
        record["organization"] = org_obj
    return record


def _capture(papers: list[dict], rng: random.Random, hours_since_listing: float) -> list[dict]:
    """The listing as seen some hours after it opened: upvotes and comments grow, order by upvotes."""
    seen = []
    for record in papers:
        r = json.loads(json.dumps(record))
        base = record["_appeal"]
        r["paper"]["upvotes"] = int(base * min(1.0, (hours_since_listing / 60) ** 0.5))
        r["numComments"] = int(r["paper"]["upvotes"] / 12)
        r.pop("_appeal")
        r["paper"].pop("_appeal", None)
        seen.append(r)
    return sorted(seen, key=lambda r: -r["paper"]["upvotes"])


def sample_snapshots(seed: int = SEED) -> dict[str, bytes]:
    """File name -> bytes of every bundled sample snapshot."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    days = [date(2025, 11, 3), date(2025, 11, 4), date(2025, 11, 5), date(2025, 11, 6), date(2025, 11, 7)]
    all_papers: list[dict] = []
    for d_index, day in enumerate(days):
        count = rng.randint(9, 14)
        papers = [_paper(rng, day, d_index * 3 + i) for i in range(count)]
        for record in papers:
            record["_appeal"] = int(rng.paretovariate(1.3) * 8)
        all_papers.extend(papers)
        captures = [(day + timedelta(days=1), 9.0, papers)]
        if d_index >= 3:  # recent days: an early partial capture and a later fuller one
            captures = [(day, 6.0, papers[: count - 3]), (day + timedelta(days=1), 30.0, papers)]
        for captured_on, hours, listed in captures:
            stamp = datetime.combine(captured_on, datetime.min.time()) + timedelta(hours=hours % 24)
            body = json.dumps(_capture(listed, rng, hours), ensure_ascii=False, indent=1)
            files[f"{day.isoformat()}_captured-{stamp:%Y%m%dT%H%M%S}Z.json"] = body.encode()
    files["2025-11-08_captured-20251109T090000Z.json"] = b"[]\n"  # a Saturday: nothing listed
    files["papers-listing_captured-20251110.txt"] = _page_text(rng, all_papers).encode()
    return files


def _page_text(rng: random.Random, api_papers: list[dict]) -> str:
    """The listing page as copied from a browser: some cards are API papers, some only on the page."""
    lines = ["Daily Papers", "", "byAK and the research community", "", "Nov 10", ""]
    cards = [(p["paper"]["title"], p["paper"]["summary"], len(p["paper"]["authors"]),
              datetime.fromisoformat(p["paper"]["publishedAt"].replace("Z", "+00:00")).date())
             for p in rng.sample(api_papers, 6)]
    for i in range(4):
        tag, keywords, pattern = TOPICS[(i * 5 + 2) % len(TOPICS)]
        title = pattern.format(x=f"Page{NAMES[i]}")
        cards.append((title, _abstract(rng, keywords, title), rng.randint(1, 30),
                      date(2024 + (i % 2), rng.randint(1, 12), rng.randint(1, 28))))
    for title, abstract, authors, published in cards:
        when = f"{published:%b} {published.day}" + ("" if published.year == 2025 else f", {published.year}")
        comments = rng.choice(["", "", f" {rng.randint(1, 9)}"])
        lines += [title, "", abstract, "", f"  • {authors} author{'s' if authors != 1 else ''}", "·",
                  when + comments, ""]
    return "\n".join(lines)


def write_samples(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in sample_snapshots().items():
        path = folder / name
        path.write_bytes(body)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    written = write_samples(Path(args[0]))
    print(f"wrote {len(written)} sample snapshot(s) into {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
