-- Recording and quality (docs/operations.md, "Recordings"): the catalogue of every recording
-- file, an audit of every play, download and delete, supervisors' scores, and the caller's
-- post-call survey score on the call record.

ALTER TABLE recordings
    ADD COLUMN id          bigserial UNIQUE,
    ADD COLUMN caller      text,
    ADD COLUMN called      text,
    ADD COLUMN queue       text,
    ADD COLUMN agents      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN channels    smallint NOT NULL DEFAULT 1,
    ADD COLUMN size_bytes  bigint NOT NULL DEFAULT 0,
    ADD COLUMN sha256      text,
    ADD COLUMN pauses      jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN started_by  text,
    ADD COLUMN catalogued_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX recordings_started ON recordings (started_at);
CREATE INDEX recordings_call ON recordings (call_id);
CREATE INDEX recordings_caller ON recordings (caller, started_at);

CREATE TABLE recording_audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    operator  text NOT NULL,
    role      text NOT NULL,
    action    text NOT NULL,      -- play, download, delete, score, retention
    recording bigint,
    path      text,
    outcome   text NOT NULL       -- done, refused, missing
);
CREATE INDEX recording_audit_at ON recording_audit (at);

CREATE TABLE recording_scores (
    id        bigserial PRIMARY KEY,
    recording bigint NOT NULL,
    call_id   uuid,
    agent     text,
    scorer    text NOT NULL,
    score     smallint NOT NULL CHECK (score BETWEEN 0 AND 100),
    comment   text NOT NULL DEFAULT '',
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recording_scores_agent ON recording_scores (agent, at);

-- The caller's verdict (1–5) from the post-call survey.
ALTER TABLE calls ADD COLUMN csat smallint CHECK (csat BETWEEN 1 AND 5);
