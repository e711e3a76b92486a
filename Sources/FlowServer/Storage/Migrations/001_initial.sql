-- Hotline schema, version 1. Never edit a shipped migration: add the next number instead.

CREATE TABLE roles (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT ''
);
INSERT INTO roles (name, description) VALUES
    ('agent', 'answers calls'),
    ('supervisor', 'monitors agents and queues, listens, whispers, barges'),
    ('admin', 'manages flows, queues, skills and users');

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    work_code     text NOT NULL UNIQUE,
    name          text NOT NULL DEFAULT '',
    -- "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX"; never a clear password
    password_hash text NOT NULL,
    extension     text,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_roles (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    role    text NOT NULL REFERENCES roles,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE skills (
    name        text PRIMARY KEY,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE user_skills (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    skill   text NOT NULL REFERENCES skills ON DELETE CASCADE,
    level   smallint NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (user_id, skill)
);

CREATE TABLE queues (
    name                  text PRIMARY KEY,
    strategy              text NOT NULL DEFAULT 'longest-idle',
    service_level_seconds integer NOT NULL DEFAULT 20,
    short_abandon_seconds integer NOT NULL DEFAULT 5,
    max_wait_seconds      integer,
    config                jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE queue_members (
    queue   text NOT NULL REFERENCES queues ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    PRIMARY KEY (queue, user_id)
);

CREATE TABLE flows (
    name            text PRIMARY KEY,
    current_version integer
);

CREATE TABLE flow_versions (
    flow         text NOT NULL REFERENCES flows ON DELETE CASCADE,
    version      integer NOT NULL,
    source       text NOT NULL,
    checksum     text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text,
    PRIMARY KEY (flow, version)
);

CREATE TABLE mapping_tables (
    name            text PRIMARY KEY,
    current_version integer
);

CREATE TABLE mapping_versions (
    mapping      text NOT NULL REFERENCES mapping_tables ON DELETE CASCADE,
    version      integer NOT NULL,
    source       text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text,
    PRIMARY KEY (mapping, version)
);

-- 客户资料: free-form fields an integrator adds go in `fields`.
CREATE TABLE customers (
    id         bigserial PRIMARY KEY,
    account    text UNIQUE,
    name       text NOT NULL DEFAULT '',
    phones     text[] NOT NULL DEFAULT '{}',
    fields     jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_phones ON customers USING gin (phones);

-- One row per call (the CDR): from arrival to the end of its last leg, through transfers,
-- conferences and returns to a flow. Written once, when the call ends; call_id makes
-- replays from the spool idempotent.
CREATE TABLE calls (
    call_id           uuid PRIMARY KEY,
    channel_id        text NOT NULL,
    flow_server       text NOT NULL,
    direction         text NOT NULL,
    caller            text NOT NULL,
    called            text NOT NULL,
    customer_id       bigint,
    arrived_at        timestamptz NOT NULL,
    answered_at       timestamptz,
    flow              text,
    flow_version      integer,
    queue             text,
    queued_at         timestamptz,
    offered_at        timestamptz,
    agent             text,
    agent_answered_at timestamptz,
    ended_at          timestamptz NOT NULL,
    -- self-service | answered | abandoned | rejected | failed | transferred | callback
    disposition       text NOT NULL,
    ended_by          text,
    cause             text,
    sip_code          integer,
    hold_seconds      double precision NOT NULL DEFAULT 0,
    wrapup_seconds    double precision NOT NULL DEFAULT 0,
    transfers         integer NOT NULL DEFAULT 0,
    recording         text,
    written_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_arrived ON calls (arrived_at);
CREATE INDEX calls_queue ON calls (queue, arrived_at);
CREATE INDEX calls_agent ON calls (agent, arrived_at);
CREATE INDEX calls_caller ON calls (caller, arrived_at);

-- Each SIP leg of a call: the caller, agents, transfer targets, supervisors, conference members.
CREATE TABLE call_legs (
    call_id     uuid NOT NULL REFERENCES calls ON DELETE CASCADE,
    leg         integer NOT NULL,
    channel_id  text NOT NULL,
    party       text NOT NULL,
    role        text NOT NULL,
    started_at  timestamptz NOT NULL,
    answered_at timestamptz,
    ended_at    timestamptz,
    cause       text,
    PRIMARY KEY (call_id, leg)
);

-- Everything that happened to a call, in order: arrival, flow nodes, queue entry, offers,
-- answer, holds, transfers, conference, end.
CREATE TABLE call_events (
    call_id uuid NOT NULL REFERENCES calls ON DELETE CASCADE,
    seq     integer NOT NULL,
    at      timestamptz NOT NULL,
    kind    text NOT NULL,
    detail  jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE agent_states (
    event_key  text PRIMARY KEY,
    agent      text NOT NULL,
    state      text NOT NULL,
    reason     text,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz
);
CREATE INDEX agent_states_agent ON agent_states (agent, started_at);

CREATE TABLE queue_events (
    event_key text PRIMARY KEY,
    queue     text NOT NULL,
    call_id   uuid,
    kind      text NOT NULL,
    at        timestamptz NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX queue_events_queue ON queue_events (queue, at);

CREATE TABLE recordings (
    path        text PRIMARY KEY,
    call_id     uuid,
    channel_id  text NOT NULL,
    started_at  timestamptz,
    duration_ms integer NOT NULL,
    reason      text
);
