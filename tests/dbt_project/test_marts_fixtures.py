"""Correctness of the public marts on the real shared fixtures.

Every expected value is computed here, independently, from the fixture files with plain json and
Python (not the project's parsers), then compared with the marts built by the real pipeline
(`fixtures_warehouse`: all shared fixtures ingested, marts built).
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import unicodedata
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest
import yaml

from topics.evaluate import tokens

pytestmark = pytest.mark.pipeline  # builds the warehouse with dbt: `make test`, not `make check`

from tests.pipeline_runs import FIXTURES, REPO


# ---------------------------------------------------------------- independent expectations

def _loadable_api_files() -> list[Path]:
    """API files whose body is what the API returns: a bare JSON array of paper objects."""
    files = []
    for path in sorted((FIXTURES / "daily_papers").glob("*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(body, list) and all(isinstance(e, dict) and isinstance(e.get("paper"), dict) for e in body):
            files.append(path)
    return files


def _captured_key(path: Path) -> str:
    return re.search(r"captured-(\d{8}T?\d{0,6}Z?)", path.name).group(1)


def _ws(text: str) -> str:
    return " ".join(text.split())


def _norm_title(text: str) -> str:
    """Identity key of a title: case, accents, punctuation and whitespace do not count."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if ch.isalnum() and not unicodedata.combining(ch))


API_FILES = _loadable_api_files()


def _captures() -> list[dict]:
    """One dict per loadable API capture: listing date, capture key, and its papers in order."""
    caps = []
    for path in API_FILES:
        body = json.loads(path.read_text(encoding="utf-8"))
        caps.append({"listing_date": path.name[:10], "captured": _captured_key(path), "entries": body})
    return sorted(caps, key=lambda c: (c["captured"], c["listing_date"]))


CAPTURES = _captures()


def _latest_entry_per_paper() -> dict[str, dict]:
    latest = {}
    for cap in CAPTURES:  # sorted by capture time: later captures overwrite
        for entry in cap["entries"]:
            latest[str(entry["paper"]["id"])] = entry
    return latest


LATEST = _latest_entry_per_paper()


def _text_cards() -> list[dict]:
    cards = []
    for path in sorted((FIXTURES / "listing_text").glob("*.txt")):
        blocks = [b.strip() for b in re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))]
        for i, block in enumerate(blocks):
            m = re.match(r"•\s*(\d+)\s+authors?\b", block)
            if m:
                date_line = block.splitlines()[-1].strip()  # "Dec 12, 2023 8", "May 21", "Sep 8 2"
                d = re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}(?:, \d{4})?(?: (\d+))?", date_line)
                assert d, date_line
                cards.append({"title": _ws(blocks[i - 2]), "authors": int(m.group(1)),
                              "comments": int(d.group(1) or 0)})
    return cards


CARDS = _text_cards()
API_TITLES = {_norm_title(e["paper"]["title"]): pid for pid, e in LATEST.items()}


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def con(fixtures_warehouse):
    connection = duckdb.connect(str(fixtures_warehouse), read_only=True)
    yield connection
    connection.close()


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


# ---------------------------------------------------------------- tests

def test_fixture_expectations_are_sane():
    assert len(API_FILES) == 9
    assert len(CARDS) == 85


def test_each_contract_not_null_is_a_constraint_of_the_table_and_not_also_a_dbt_test(con):
    """A contracted column's not_null is checked once: DuckDB refuses the NULL when the model writes
    it (a NOT NULL constraint of the built table), so no dbt test repeats it."""
    import yaml

    from orchestration.project import DBT_PROJECT_DIR

    declared, tested = set(), set()
    for model in yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "_marts.yml").read_text())["models"]:
        for column in model.get("columns", []):
            if any(c.get("type") == "not_null" for c in column.get("constraints", [])):
                declared.add((model["name"], column["name"]))
            if any((t if isinstance(t, str) else next(iter(t))) == "not_null" for t in column.get("data_tests", [])):
                tested.add((model["name"], column["name"]))
    enforced = {(table, column) for table, columns in rows(
        con, "select table_name, constraint_column_names from duckdb_constraints() "
             "where schema_name = 'marts' and constraint_type = 'NOT NULL'") for column in columns}
    assert declared and declared <= enforced, declared - enforced
    assert not declared & tested, declared & tested


def test_each_public_mart_has_a_key_that_dbt_tests_unique_and_its_contract_keeps_not_null():
    """A mart's key is dbt's to check (the GX suites hold row rules on values only): a `unique` test
    on a column or a `unique_combination_of_columns` test on the model, each key column NOT NULL."""
    import yaml

    from orchestration.project import DBT_PROJECT_DIR, PUBLIC_MARTS

    def name(test):
        return test if isinstance(test, str) else next(iter(test))

    models = {m["name"]: m for m in yaml.safe_load(
        (DBT_PROJECT_DIR / "models" / "marts" / "_marts.yml").read_text())["models"]}
    for mart in PUBLIC_MARTS:
        columns = {c["name"]: c for c in models[mart]["columns"]}
        keys = [[c] for c, spec in columns.items() if "unique" in map(name, spec.get("data_tests", []))]
        keys += [t["unique_combination_of_columns"]["arguments"]["combination_of_columns"]
                 for t in models[mart].get("data_tests", []) if name(t) == "unique_combination_of_columns"]
        assert keys, f"{mart}: no uniqueness test"
        for key in keys:
            for column in key:
                if column == "arxiv_id":  # NULL for papers seen only as page-text cards: unique when set
                    continue
                assert {"type": "not_null"} in columns[column].get("constraints", []), (mart, column)


def test_one_row_per_paper_id(con):
    total, distinct = rows(con, "select count(*), count(distinct paper_id) from marts.papers")[0]
    assert total == distinct > 0


def test_papers_with_arxiv_id_equal_distinct_api_ids(con):
    expected = {str(e["paper"]["id"]) for cap in CAPTURES for e in cap["entries"]}
    got = {r[0] for r in rows(con, "select arxiv_id from marts.papers where arxiv_id is not null")}
    assert got == expected
    assert rows(con, "select count(*) from marts.papers where arxiv_id is not null")[0][0] == len(expected)
    # arXiv ids keep their exact string form (no float conversion: '2503.02130' keeps its zero)
    assert all(pid == r for pid, r in rows(con, "select paper_id, arxiv_id from marts.papers where arxiv_id is not null"))


def test_papers_per_listing_date(con):
    expected = defaultdict(set)
    for cap in CAPTURES:
        expected[cap["listing_date"]].update(str(e["paper"]["id"]) for e in cap["entries"])
    got = {str(d): n for d, n in rows(con, "select listing_date, papers from marts.authors_daily")}
    assert got == {d: len(ids) for d, ids in expected.items()}
    per_topic = {str(d): n for d, n in rows(con, "select listing_date, sum(papers) from marts.topics_daily group by 1")}
    assert per_topic == got
    # listing growth across the two captures of 2024-06-12 (14 -> 16 papers)
    caps = [c for c in CAPTURES if c["listing_date"] == "2024-06-12"]
    assert [len(c["entries"]) for c in caps] == [14, 16]
    got_caps = rows(con, """select captured_at, count(*) from marts.paper_observations
                            where listing_date = date '2024-06-12' group by 1 order by 1""")
    assert [n for _, n in got_caps] == [14, 16]


def test_listing_days(con):
    dates = defaultdict(set)
    for cap in CAPTURES:
        for e in cap["entries"]:
            dates[str(e["paper"]["id"])].add(cap["listing_date"])
    got = dict(rows(con, "select arxiv_id, listing_days from marts.papers where arxiv_id is not null"))
    assert got == {pid: len(d) for pid, d in dates.items()}
    first_last = {pid: (str(a), str(b)) for pid, a, b in rows(
        con, "select arxiv_id, first_listed_on, last_listed_on from marts.papers where arxiv_id is not null")}
    assert first_last == {pid: (min(d), max(d)) for pid, d in dates.items()}


def test_author_count_per_paper(con):
    got = dict(rows(con, "select arxiv_id, author_count from marts.papers where arxiv_id is not null"))
    assert got == {pid: len(e["paper"]["authors"]) for pid, e in LATEST.items()}


@pytest.mark.parametrize("listing_date", ["2024-06-12", "2025-01-22"])
def test_latest_upvotes_for_papers_seen_in_two_captures(con, listing_date):
    caps = [c for c in CAPTURES if c["listing_date"] == listing_date]
    assert len(caps) == 2
    earlier, later = ({str(e["paper"]["id"]): e for e in c["entries"]} for c in caps)
    in_both = set(earlier) & set(later)
    assert in_both, "fixture should have papers in both captures"
    got_upvotes = dict(rows(con, "select paper_id, upvotes from marts.papers"))
    got_obs = dict(rows(con, """select paper_id, count(*) from marts.paper_observations
                                where listing_date = ? group by 1""", [listing_date]))
    for pid in in_both:
        assert got_upvotes[pid] == later[pid]["paper"]["upvotes"], pid
        assert got_obs[pid] == 2, pid
    for pid in set(later) - set(earlier):
        assert got_obs[pid] == 1
        assert got_upvotes[pid] == later[pid]["paper"]["upvotes"]
    # the upvote history keeps the earlier value too
    for pid in in_both:
        history = [u for (u,) in rows(con, """select upvotes from marts.paper_observations
                                              where paper_id = ? order by captured_at""", [pid])]
        assert history == [earlier[pid]["paper"]["upvotes"], later[pid]["paper"]["upvotes"]]


def test_latest_upvotes_and_velocity_for_every_api_paper(con):
    got = {pid: (u, umax, obs) for pid, u, umax, obs in rows(
        con, "select paper_id, upvotes, upvotes_max, observations from marts.papers where arxiv_id is not null")}
    history = defaultdict(list)
    for cap in CAPTURES:
        for e in cap["entries"]:
            history[str(e["paper"]["id"])].append(e["paper"]["upvotes"])
    for pid, ups in history.items():
        assert got[pid] == (ups[-1], max(ups), len(ups)), pid
    single = rows(con, """select count(*) from marts.papers
                          where arxiv_id is not null and observations = 1 and upvote_velocity is not null""")[0][0]
    assert single == 0
    positive = rows(con, """select count(*) from marts.papers
                            where observations = 2 and upvote_velocity is not null""")[0][0]
    assert positive > 0


def test_text_cards_become_papers(con):
    card_titles = {_norm_title(c["title"]) for c in CARDS}
    merged = {t for t in card_titles if t in API_TITLES}
    card_only = card_titles - merged
    # the shared fixtures: 85 cards, 85 distinct titles, none listed in the API files
    assert len(card_titles) == 85
    got_card_only = rows(con, "select count(*) from marts.papers where arxiv_id is null")[0][0]
    assert got_card_only == len(card_only)
    got_with_cards = rows(con, "select count(*) from marts.papers where list_contains(sources, 'page_text')")[0][0]
    assert got_with_cards == len(card_titles)
    total = rows(con, "select count(*) from marts.papers")[0][0]
    assert total == len(LATEST) + len(card_only)
    assert rows(con, "select count(*) from marts.papers where arxiv_id is null and paper_id not like 'title:%'")[0][0] == 0


def test_text_card_values(con):
    row = rows(con, """select author_count, published_on, num_comments, upvotes, listing_days, first_listed_on
                       from marts.papers where title like 'LLM in a flash%'""")
    assert len(row) == 1
    author_count, published_on, comments, upvotes, listing_days, first_listed = row[0]
    assert (author_count, str(published_on), comments) == (8, "2023-12-12", 8)
    assert upvotes is None and listing_days == 0 and first_listed is None


def test_cards_stay_out_of_per_date_marts(con):
    assert rows(con, """select count(*) from marts.paper_observations o join marts.papers p using (paper_id)
                        where p.arxiv_id is null and o.listing_date is not null""")[0][0] == 0
    assert rows(con, "select count(*) from marts.authors_daily where listing_date is null")[0][0] == 0


def test_authors_count_over_all_papers(con):
    counts = [len(e["paper"]["authors"]) for e in LATEST.values()]
    counts += [c["authors"] for c in CARDS if _norm_title(c["title"]) not in API_TITLES]
    expected = defaultdict(int)
    for n in counts:
        expected[n] += 1
    got = {n: (p, s) for n, p, s in rows(con, "select author_count, papers, share_of_papers from marts.authors_count")}
    assert {n: p for n, (p, _) in got.items()} == dict(expected)
    assert sum(s for _, s in got.values()) == pytest.approx(1.0)
    upvotes_by_count = defaultdict(list)
    for e in LATEST.values():
        upvotes_by_count[len(e["paper"]["authors"])].append(e["paper"]["upvotes"])
    got_median = dict(rows(con, "select author_count, upvotes_median from marts.authors_count"))
    for n, ups in upvotes_by_count.items():
        assert got_median[n] == pytest.approx(statistics.median(ups))


def test_authors_daily_statistics(con):
    per_date = defaultdict(dict)
    for cap in CAPTURES:
        for e in cap["entries"]:
            pid = str(e["paper"]["id"])
            per_date[cap["listing_date"]][pid] = len(LATEST[pid]["paper"]["authors"])
    got = {str(r[0]): r[1:] for r in rows(con, """
        select listing_date, papers, authors_total, authors_mean, authors_median, authors_max,
               team_solo, team_2_3, team_4_6, team_7_10, team_11_20, team_21_plus
        from marts.authors_daily""")}
    assert set(got) == set(per_date)
    for d, papers in per_date.items():
        n = list(papers.values())
        buckets = [sum(1 for x in n if lo <= x <= hi) for lo, hi in
                   [(1, 1), (2, 3), (4, 6), (7, 10), (11, 20), (21, 10**9)]]
        exp = (len(n), sum(n), statistics.mean(n), statistics.median(n), max(n), *buckets)
        assert got[d][:2] == exp[:2]
        assert got[d][2] == pytest.approx(exp[2])
        assert got[d][3] == pytest.approx(exp[3])
        assert tuple(got[d][4:]) == tuple(exp[4:])


def test_authors_names_hidden_excluded(con):
    expected = defaultdict(set)
    for pid, e in LATEST.items():
        for a in e["paper"]["authors"]:
            if not a.get("hidden") and a.get("name") and _ws(a["name"]):
                expected[_ws(a["name"])].add(pid)
    got = dict(rows(con, "select author_name, papers from marts.authors"))
    assert got == {name: len(p) for name, p in expected.items()}
    hidden = {_ws(a["name"]) for e in LATEST.values() for a in e["paper"]["authors"] if a.get("hidden")}
    only_hidden = hidden - set(expected)
    assert not (only_hidden & set(got))
    upvotes = dict(rows(con, "select author_name, upvotes_total from marts.authors"))
    for name, pids in list(expected.items())[:50]:
        assert upvotes[name] == sum(LATEST[p]["paper"]["upvotes"] for p in pids)


def test_share_of_day_sums_to_one(con):
    sums = rows(con, "select listing_date, sum(share_of_day) from marts.topics_daily group by 1")
    assert len(sums) == len({c["listing_date"] for c in CAPTURES})
    for _, total in sums:
        assert total == pytest.approx(1.0, abs=1e-9)


def test_share_of_day_matches_primary_topics(con):
    got = {(str(d), t): (p, s) for d, t, p, s in rows(
        con, "select listing_date, topic, papers, share_of_day from marts.topics_daily where papers > 0")}
    primary = dict(rows(con, "select paper_id, topic from marts.paper_topics where is_primary"))
    per_date = defaultdict(set)
    for cap in CAPTURES:
        per_date[cap["listing_date"]].update(str(e["paper"]["id"]) for e in cap["entries"])
    expected = {}
    for d, ids in per_date.items():
        for pid in ids:
            expected.setdefault((d, primary[pid]), 0)
            expected[(d, primary[pid])] += 1
    assert {k: p for k, (p, _) in got.items()} == expected
    for (d, _), (p, s) in got.items():
        assert s == pytest.approx(p / len(per_date[d]))


def test_paper_topics_one_primary_and_word_boundaries(con):
    bad = rows(con, """select paper_id from marts.paper_topics group by 1
                       having count(*) filter (where is_primary) <> 1""")
    assert bad == []
    assert rows(con, "select count(*) from marts.paper_topics")[0][0] >= rows(con, "select count(*) from marts.papers")[0][0]
    # every paper is in paper_topics (cards included)
    assert rows(con, """select count(*) from marts.papers p
                        anti join marts.paper_topics t using (paper_id)""")[0][0] == 0
    # primary = highest score
    wrong = rows(con, """
        select count(*) from marts.paper_topics t
        where is_primary and score < (select max(score) from marts.paper_topics s where s.paper_id = t.paper_id)""")[0][0]
    assert wrong == 0


def test_topics_daily_mentions_are_all_topics_of_listed_papers(con):
    """mentions = papers of the date having the topic among any of their paper_topics rows."""
    got = {(str(d), t): (m, p, share) for d, t, m, p, share in rows(
        con, "select listing_date, topic, mentions, papers, mention_share from marts.topics_daily")}
    topics = defaultdict(set)
    for pid, topic in rows(con, "select paper_id, topic from marts.paper_topics"):
        topics[pid].add(topic)
    per_date = defaultdict(set)
    for cap in CAPTURES:
        per_date[cap["listing_date"]].update(str(e["paper"]["id"]) for e in cap["entries"])
    expected = defaultdict(int)
    for d, ids in per_date.items():
        for pid in ids:
            for topic in topics[pid]:
                expected[(d, topic)] += 1
    assert {k: m for k, (m, _, _) in got.items()} == dict(expected)
    for (d, _), (m, p, share) in got.items():
        assert m >= p
        assert share == pytest.approx(m / len(per_date[d]))


def test_topics_weekly_shares_and_changes(con):
    sums = rows(con, "select week_start, sum(share_of_week), sum(papers) from marts.topics_weekly group by 1")
    for _, share, _ in sums:
        assert share == pytest.approx(1.0)
    weeks = {str(w) for w, *_ in sums}
    for w in weeks:
        assert rows(con, "select isodow(?::date)", [w])[0][0] == 1
    # week-over-week change: NULL without a previous week of listings, else the difference
    assert rows(con, """select count(*) from marts.topics_weekly t
                        where papers_change_wow is not null and not exists (
                            select 1 from marts.topics_weekly p where p.week_start = t.week_start - 7)""")[0][0] == 0


def test_card_comment_counts(con):
    card_only = [c for c in CARDS if _norm_title(c["title"]) not in API_TITLES]
    got = {_norm_title(t): n for t, n in rows(con, "select title, num_comments from marts.papers where arxiv_id is null")}
    assert got == {_norm_title(c["title"]): c["comments"] for c in card_only}


def test_paper_topics_match_terms_as_documented(con):
    """Independent oracle for API papers: a term matches when its folded tokens appear consecutively
    in one field (title, abstract, one ai_keyword) of the paper's latest non-null values; it earns
    weight x (title weight if in the title + abstract weight x its occurrences in the abstract, at
    most abstract_count_cap + keywords weight if in an ai_keyword); score = the topic's base score +
    its points; candidates = topics with a term found + `other`; primary = highest score; others
    (never `other`) kept within secondary_margin of the primary and secondary_over_other above
    `other`'s score."""
    seeds = REPO / "dbt_project" / "seeds"
    with (seeds / "topic_taxonomy.csv").open(newline="") as f:
        taxonomy = defaultdict(dict)
        for row in csv.DictReader(f):
            if row["term"].strip():
                taxonomy[row["topic"]][row["term"]] = float(row["weight"])
    with (seeds / "topics.csv").open(newline="") as f:
        base = {row["topic"]: float(row["base_score"]) for row in csv.DictReader(f)}
    scoring = yaml.safe_load((seeds.parent / "dbt_project.yml").read_text())["vars"]["topic_scoring"]
    term_tokens = {term: tokens(term) for terms in taxonomy.values() for term in terms}
    latest = {}
    for cap in CAPTURES:  # later captures overwrite, field by field, where they have a value
        for entry in cap["entries"]:
            p = entry["paper"]
            fields = latest.setdefault(str(p["id"]), {})
            for name, value in (("title", p.get("title") or entry.get("title")), ("summary", p.get("summary")),
                                ("keywords", p.get("ai_keywords"))):
                if value is not None and (name != "summary" or value.strip()):
                    fields[name] = value

    def occurrences(tokens: list[str], term: list[str]) -> int:
        return sum(tokens[i:i + len(term)] == term for i in range(len(tokens) - len(term) + 1))

    def matches(tokens: list[str], term: list[str]) -> bool:
        return occurrences(tokens, term) > 0

    expected = {}
    for pid, fields in latest.items():
        title, abstract = tokens(fields.get("title") or ""), tokens(fields.get("summary") or "")
        keywords = [tokens(k) for k in fields.get("keywords") or []]
        scores = {}
        for topic, terms in taxonomy.items():
            found = [weight * (scoring["title_weight"] * matches(title, term_tokens[term])
                               + scoring["abstract_weight"] * min(occurrences(abstract, term_tokens[term]),
                                                                  scoring["abstract_count_cap"])
                               + scoring["keywords_weight"] * any(matches(k, term_tokens[term]) for k in keywords))
                     for term, weight in terms.items()
                     if matches(title, term_tokens[term]) or matches(abstract, term_tokens[term])
                     or any(matches(k, term_tokens[term]) for k in keywords)]
            if found:
                scores[topic] = (len(found), base[topic] + sum(found))
        scores.setdefault("other", (0, base["other"]))
        best, bar = max(s for _, s in scores.values()), scores["other"][1]
        expected[pid] = {t: (n, s == best, s) for t, (n, s) in scores.items()
                         if s == best or (t != "other" and s >= best - scoring["secondary_margin"] - 1e-9
                                          and s >= bar + scoring["secondary_over_other"] - 1e-9)}
    actual = defaultdict(dict)
    for pid, topic, n, primary, score in rows(
            con, "select paper_id, topic, matched_terms, is_primary, score from marts.paper_topics"):
        if pid in expected:
            actual[pid][topic] = (n, primary, score)

    def same(got, want):  # score is stored rounded to 4 decimals
        return got.keys() == want.keys() and all(
            got[t][:2] == want[t][:2] and got[t][2] == pytest.approx(want[t][2], abs=1e-3) for t in want)

    assert set(actual) == set(expected)
    wrong = {pid: (actual[pid], expected[pid]) for pid in expected if not same(actual[pid], expected[pid])}
    assert not wrong, list(wrong.items())[:3]
    # the fixtures exercise multi-word terms and plural folding, terms repeated in an abstract,
    # and secondary topics
    multi = [t for t, toks in term_tokens.items() if len(toks) > 1]
    assert any(matches(tokens(f.get("summary") or ""), term_tokens[t]) for f in latest.values() for t in multi)
    assert any(occurrences(tokens(f.get("summary") or ""), term_tokens[t]) > 1 for f in latest.values() for t in term_tokens)
    assert any(len(topics) > 1 for topics in expected.values())
