-- submit_decision(decision jsonb): the one safe way for n8n to write a decision (docs/n8n.md).
-- The whole decision arrives as one JSON value, so no splitting or quoting on n8n's side can
-- touch its text. The function checks its structure only (an object, an action from the set,
-- a ticker, the keys that action needs), raises an error naming the field, writes the row
-- (ticker, primary_action and the trade's ids in their columns too) and returns its id.
-- Every other rule stays with the executor, which ends the decision REJECTED with its reason.
-- A plain INSERT into analysis_decision keeps working as before.
--
-- SECURITY INVOKER: it can do no more than the caller's own INSERT could. Its search_path is
-- fixed to this schema (then pg_temp), so it always writes this schema's analysis_decision.
CREATE OR REPLACE FUNCTION submit_decision(decision jsonb)
RETURNS analysis_decision.id%TYPE
LANGUAGE plpgsql
SECURITY INVOKER
AS $submit_decision$
DECLARE
    v_action text;
    v_ticker text;
    v_known text[] := ARRAY[]::text[];
    v_lacking text[] := ARRAY[]::text[];
    v_need record;
    v_field text;  -- the first key lacking, for the error's COLUMN field
    v_journal text;
    v_id analysis_decision.id%TYPE;
BEGIN
    IF submit_decision.decision IS NULL OR jsonb_typeof(submit_decision.decision) <> 'object' THEN
        RAISE EXCEPTION 'submit_decision: the decision must be a JSON object, not %',
            coalesce(jsonb_typeof(submit_decision.decision), 'SQL NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass the whole decision as one JSON object (docs/decision-contract.md)';
    END IF;
    IF jsonb_typeof(submit_decision.decision -> 'primary_action') = 'string' THEN
        v_action := upper(btrim(submit_decision.decision ->> 'primary_action'));
    END IF;
    IF jsonb_typeof(submit_decision.decision -> 'ticker') = 'string' THEN
        v_ticker := upper(btrim(submit_decision.decision ->> 'ticker'));
    END IF;

    -- What each action needs: one key of each group, set (not null, not a blank string).
    FOR v_need IN
-- BEGIN shape: rendered from trading_monitor/decision_shape.py
    SELECT * FROM (VALUES
        ('NEW_TRADE', 1, ARRAY['side']),
        ('NEW_TRADE', 2, ARRAY['trade_style']),
        ('NEW_TRADE', 3, ARRAY['entry_price']),
        ('NEW_TRADE', 4, ARRAY['stop_loss']),
        ('NEW_TRADE', 5, ARRAY['quantity', 'risk_amount', 'risk_pct']),
        ('CANCEL', 1, ARRAY['existing_order_id', 'existing_trade_journal_id']),
        ('AMEND', 1, ARRAY['side']),
        ('AMEND', 2, ARRAY['trade_style']),
        ('AMEND', 3, ARRAY['entry_price']),
        ('AMEND', 4, ARRAY['stop_loss']),
        ('AMEND', 5, ARRAY['quantity', 'risk_amount', 'risk_pct']),
        ('AMEND', 6, ARRAY['existing_order_id', 'existing_trade_journal_id']),
        ('NO_ACTION', 0, NULL::text[])
    ) AS shape(action, position, keys)
-- END shape
    LOOP
        IF NOT v_need.action = ANY (v_known) THEN
            v_known := v_known || v_need.action;
        END IF;
        IF v_need.action = v_action AND v_need.keys IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM unnest(v_need.keys) AS k(key)
                WHERE jsonb_typeof(submit_decision.decision -> k.key) IS DISTINCT FROM 'null'
                  AND btrim(submit_decision.decision ->> k.key) <> '') THEN
            v_lacking := v_lacking || CASE WHEN cardinality(v_need.keys) = 1 THEN v_need.keys[1]
                                           ELSE 'one of ' || array_to_string(v_need.keys, ', ')
                                      END;
            v_field := coalesce(v_field, v_need.keys[1]);
        END IF;
    END LOOP;

    IF v_action IS NULL OR NOT v_action = ANY (v_known) THEN
        RAISE EXCEPTION 'submit_decision: primary_action must be one of % (got %)',
            array_to_string(v_known, ', '),
            coalesce((submit_decision.decision -> 'primary_action')::text, 'nothing')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'primary_action';
    END IF;
    IF v_ticker IS NULL OR v_ticker = '' THEN
        RAISE EXCEPTION 'submit_decision: ticker must be a non-empty string (got %)',
            coalesce((submit_decision.decision -> 'ticker')::text, 'nothing')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'ticker';
    END IF;
    IF cardinality(v_lacking) > 0 THEN
        RAISE EXCEPTION 'submit_decision: % needs %', v_action, array_to_string(v_lacking, '; ')
            USING ERRCODE = 'invalid_parameter_value', COLUMN = v_field;
    END IF;
    -- The trade's ids go in their columns too; the journal id's column is an integer.
    v_journal := nullif(btrim(submit_decision.decision ->> 'existing_trade_journal_id'), '');
    IF jsonb_typeof(submit_decision.decision -> 'existing_trade_journal_id') = 'null' THEN
        v_journal := NULL;
    END IF;
    IF v_journal IS NOT NULL AND v_journal !~ '^[0-9]{1,9}$' THEN
        RAISE EXCEPTION 'submit_decision: existing_trade_journal_id must be a whole number (got %)',
            submit_decision.decision -> 'existing_trade_journal_id'
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'existing_trade_journal_id';
    END IF;

    INSERT INTO analysis_decision (ticker, primary_action, existing_order_id,
                                   existing_trade_journal_id, decision)
    VALUES (v_ticker, v_action,
            CASE WHEN jsonb_typeof(submit_decision.decision -> 'existing_order_id') <> 'null'
                 THEN nullif(btrim(submit_decision.decision ->> 'existing_order_id'), '') END,
            v_journal::integer,
            submit_decision.decision)
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$submit_decision$;

-- Fix the search_path to the schema the function was made in (the migration's schema).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION submit_decision(jsonb) SET search_path = %I, pg_temp',
                   current_schema());
END;
$$;

-- Nobody may call it but whom it is granted to: every role that may already INSERT a
-- decision by hand (the NocoDB/n8n role of `trading-monitor nocodb-role`, if it exists yet),
-- besides the owner. `trading-monitor nocodb-role` grants it to the role it makes or updates.
REVOKE ALL ON FUNCTION submit_decision(jsonb) FROM PUBLIC;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT rolname FROM pg_roles
        WHERE rolname !~ '^pg_' AND NOT rolsuper
          AND oid <> (SELECT proowner FROM pg_proc
                      WHERE oid = 'submit_decision(jsonb)'::regprocedure)
          AND has_table_privilege(oid, 'analysis_decision', 'INSERT')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION submit_decision(jsonb) TO %I', r.rolname);
    END LOOP;
END;
$$;
