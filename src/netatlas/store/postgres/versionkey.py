"""``netatlas_version_key(text) -> bytea``: ``query.versions.version_sort_key`` in SQL.

``version:<8.0`` compares a column the writer fills from Python; a protocol section's
release (``elastic.version``, ``cassandra.release_version``, ...) has no column, so its
key is computed from the JSON value by this function (schema migration 6). It must give
exactly Python's bytes — equal versions equal keys, bytea order the version order, NULL
for what is not a version — which tests/store/test_version_key_pg.py pins with generated
strings. Step by step as ``version_key`` / ``version_sort_key``:

- the head: leading ASCII white space, an optional ``v``/``V``, then a digit and the run
  of ``[0-9A-Za-z._+~-]`` after it, within the first 200 characters;
- its tokens, digit runs and letter runs; a number is twice the value of its first 30
  digits, a pre-release word its rank (``a``/``b``/``c`` only before a number), any
  other word the class of ``p1``'s ``p``;
- each non-zero token written after the count of zero tokens before it, a stop byte at
  the end.

Built as hex text, so no bytea or string escape depends on the session's settings.
"""

from __future__ import annotations

NAME = "netatlas_version_key"

FUNCTION_SQL = r"""
CREATE FUNCTION netatlas_version_key(v text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  head text;
  toks text[];
  n integer;
  tok text;
  word text;
  num text;
  pre integer;
  zeros integer := 0;
  key text := '';
BEGIN
  head := substring(substr(v, 1, 200) FROM '^[ \t\n\r\f\v]*[vV]?([0-9][-0-9A-Za-z._+~]*)');
  IF head IS NULL THEN
    RETURN NULL;
  END IF;
  toks := ARRAY(SELECT m.t[1] FROM regexp_matches(head, '([0-9]+|[A-Za-z]+)', 'g')
                       WITH ORDINALITY AS m(t, i) ORDER BY m.i);
  n := coalesce(array_length(toks, 1), 0);
  FOR i IN 1 .. n LOOP
    tok := toks[i];
    IF tok ~ '^[0-9]' THEN
      num := (substr(tok, 1, 30)::numeric * 2)::text;
      IF num = '0' THEN  -- equal to the end marker: counted, written before the next
        zeros := zeros + 1;
        CONTINUE;
      END IF;
      key := key || '03' || lpad(to_hex(255 - least(zeros, 250)), 2, '0')
                 || lpad(to_hex(length(num)), 2, '0') || encode(convert_to(num, 'UTF8'), 'hex')
                 || '00';
    ELSE
      word := translate(tok, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
      pre := CASE word WHEN 'dev' THEN 0 WHEN 'snapshot' THEN 0 WHEN 'pre' THEN 1
                       WHEN 'preview' THEN 1 WHEN 'alpha' THEN 2 WHEN 'a' THEN 2
                       WHEN 'beta' THEN 3 WHEN 'b' THEN 3 WHEN 'rc' THEN 4 WHEN 'c' THEN 4
             END;
      IF pre IS NOT NULL
         AND (word NOT IN ('a', 'b', 'c') OR (i < n AND toks[i + 1] ~ '^[0-9]')) THEN
        key := key || '01' || lpad(to_hex(least(zeros, 250)), 2, '0')
                   || '01' || encode(convert_to(pre::text, 'UTF8'), 'hex') || '00';
      ELSE
        key := key || '03' || lpad(to_hex(255 - least(zeros, 250)), 2, '0')
                   || '0131' || encode(convert_to(word, 'UTF8'), 'hex') || '00';
      END IF;
    END IF;
    zeros := 0;
  END LOOP;
  RETURN decode(key || '02', 'hex');
END
$fn$;
"""


def of_json(x: str) -> str:
    """The key of the jsonb value ``x`` when it is a string (a number, object or list is
    no version: NULL, as the SQLite store's function answers)."""
    return f"{NAME}(CASE WHEN jsonb_typeof({x}) = 'string' THEN {x} #>> '{{}}' END)"
