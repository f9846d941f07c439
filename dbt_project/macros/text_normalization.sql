{#
    Text helpers shared by staging and topic matching.

    collapse_whitespace(expr): trim and collapse any run of whitespace (incl. unicode spaces) and control
      characters (NUL, ESC, DEL...: they never reach the marts) to one space.

    normalize_title(expr): the identity key of a title, used to resolve page-text cards to API papers:
      unicode NFC normalization, accents stripped, common ligatures expanded, lower-cased, then
      every character that is not a letter or a digit removed - punctuation AND whitespace, so
      case, punctuation, spacing and hyphenation differences ("Test-Time" / "test time" /
      "TestTime", "Self-Forcing++" / "Self Forcing", line breaks, no-break spaces) do not matter:
      "Scaling Test-Time Compute:\n  A Field Guide" -> "scalingtesttimecomputeafieldguide".
#}
{#
    Same result as regexp_replace(expr, '[\s\p{Z}\x{0}-\x{1F}\x{7F}]+', ' ', 'g'), but a lone ' '
    (every word break) is not a match, so RE2 rewrites only actual runs and odd characters (~3x
    faster on abstracts): a run of 2+ such characters, or a single one other than ' ' (the class
    lists every code point of [\s\p{Z}], as RE2 defines them, and the control characters, but U+0020).
#}
{% macro collapse_whitespace(expr) -%}
    nullif(trim(regexp_replace({{ expr }},
        '[\s\p{Z}\x{0}-\x{1F}\x{7F}][\s\p{Z}\x{0}-\x{1F}\x{7F}]+|[\x{0}-\x{1F}\x{7F}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]',
        ' ', 'g')), '')
{%- endmacro %}

{% macro normalize_title(expr) -%}
    regexp_replace(
        replace(replace(lower(strip_accents(nfc_normalize({{ expr }}))), 'ﬁ', 'fi'), 'ﬂ', 'fl'),
        '[^\p{L}\p{N}]+', '', 'g')
{%- endmacro %}

{#
    matching_tokens(expr): the runs of a-z / 0-9 of the lower-cased, accent-stripped (NFC) text, as a
    list in order: what topic matching compares. An ASCII text (as many bytes as characters) skips the
    unicode normalization, which would leave it unchanged. Every other character becomes a space and
    the text is split on single spaces, the empty pieces dropped: the same list as
    regexp_extract_all(text, '[a-z0-9]+'), cheaper: the regex rewrites only the characters that are
    not already letters, digits or spaces, and splitting needs no regex.
#}
{% macro matching_tokens(expr) -%}
    list_filter(string_split(regexp_replace(
        case when strlen(coalesce({{ expr }}, '')) = length(coalesce({{ expr }}, ''))
             then lower(coalesce({{ expr }}, ''))
             else lower(strip_accents(nfc_normalize(coalesce({{ expr }}, '')))) end,
        '[^a-z0-9 ]', ' ', 'g'), ' '), lambda token: token <> '')
{%- endmacro %}

{#
    singularize_token(tok): a deliberately tiny plural folding applied identically to text tokens and
    taxonomy term tokens, so "agents" matches the term "agent" and "LLMs" matches "llm":
      tokens of 5+ chars ending in "ies" -> "y" ("policies" -> "policy");
      tokens of 4+ chars ending in "s" but not "ss", "us", "is" -> drop the "s".
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

{# max_term_tokens(relation): the number of tokens of the longest term of the taxonomy (at least 1) #}
{% macro max_term_tokens(relation) %}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set sql -%}
        select coalesce(max(len({{ matching_tokens('term') }})), 1) from {{ relation }}
    {%- endset -%}
    {{ return([run_query(sql).rows[0][0] | int, 1] | max) }}
{% endmacro %}
