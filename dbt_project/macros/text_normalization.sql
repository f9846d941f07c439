{#
    collapse_whitespace(expr): trimmed, every run of whitespace (incl. unicode spaces) and control characters
    (NUL, ESC, DEL...: they never reach the marts) collapsed to one space, '' as NULL.
    Same as regexp_replace(expr, '[\s\p{Z}\x{0}-\x{1F}\x{7F}]+', ' ', 'g'), but a lone ' ' (every word
    break) is no match, so RE2 rewrites only actual runs and odd characters (~3x faster on abstracts): a run
    of 2+, or one character other than ' ' (the second class: every code point of [\s\p{Z}] as RE2 defines
    them, and the control characters, but U+0020).
#}
{% macro collapse_whitespace(expr) -%}
    nullif(trim(regexp_replace({{ expr }},
        '[\s\p{Z}\x{0}-\x{1F}\x{7F}][\s\p{Z}\x{0}-\x{1F}\x{7F}]+'
        || '|[\x{0}-\x{1F}\x{7F}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]',
        ' ', 'g')), '')
{%- endmacro %}

{#
    normalize_title(expr): the identity key of a title, used to resolve page-text cards to API papers: NFC,
    accents stripped, ligatures expanded, lower-cased, then every character but letters and digits removed,
    so case, punctuation, spacing and hyphenation do not matter ("Test-Time" / "test time" / "TestTime").
#}
{% macro normalize_title(expr) -%}
    regexp_replace(
        replace(replace(lower(strip_accents(nfc_normalize({{ expr }}))), 'ﬁ', 'fi'), 'ﬂ', 'fl'),
        '[^\p{L}\p{N}]+', '', 'g')
{%- endmacro %}

{#
    matching_tokens(expr): the runs of a-z / 0-9 of the lower-cased, accent-stripped (NFC) text, in order:
    what topic matching compares. An ASCII text (as many bytes as characters) skips the normalization.
    The same list as regexp_extract_all(text, '[a-z0-9]+'), cheaper: the regex rewrites only the characters
    that are not already letters, digits or spaces, and splitting needs no regex.
#}
{% macro matching_tokens(expr) -%}
    {%- set text = "coalesce(" ~ expr ~ ", '')" -%}
    list_filter(string_split(regexp_replace(
        case when strlen({{ text }}) = length({{ text }}) then lower({{ text }})
             else lower(strip_accents(nfc_normalize({{ text }}))) end,
        '[^a-z0-9 ]', ' ', 'g'), ' '), lambda token: token <> '')
{%- endmacro %}

{#
    singularize_token(tok): a deliberately tiny plural folding, applied alike to text and taxonomy tokens
    ("agents" matches "agent", "LLMs" "llm"): 5+ chars ending in "ies" -> "y" ("policies" -> "policy");
    4+ chars ending in "s" but not "ss", "us", "is" -> the "s" dropped.
#}
{% macro singularize_token(tok) -%}
    case
        when length({{ tok }}) >= 5 and suffix({{ tok }}, 'ies') then left({{ tok }}, length({{ tok }}) - 3) || 'y'
        when length({{ tok }}) >= 4 and suffix({{ tok }}, 's')
             and not (suffix({{ tok }}, 'ss') or suffix({{ tok }}, 'us') or suffix({{ tok }}, 'is'))
            then left({{ tok }}, length({{ tok }}) - 1)
        else {{ tok }}
    end
{%- endmacro %}
