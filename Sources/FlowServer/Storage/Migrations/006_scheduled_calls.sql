-- Calls the system places by itself at a set time (seed 设置/取消摘机通知: reminders, wake-up
-- calls), from a flow's schedule node or App-Operate; kept here so that they survive restarts.
-- A Flow-Server claims due rows with FOR UPDATE SKIP LOCKED, so each call is placed once.

CREATE TABLE scheduled_calls (
    id          bigserial PRIMARY KEY,
    number      text NOT NULL,
    due_at      timestamptz NOT NULL,
    flow        text NOT NULL,
    variables   jsonb NOT NULL DEFAULT '{}',
    caller_id   text NOT NULL DEFAULT '',
    state       text NOT NULL DEFAULT 'pending',   -- pending, dialling, answered, failed, cancelled
    attempts    integer NOT NULL DEFAULT 0,
    created_by  text NOT NULL DEFAULT '',
    owner       text,
    channel     text,
    outcome     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz
);
CREATE INDEX scheduled_calls_due ON scheduled_calls (state, due_at);
