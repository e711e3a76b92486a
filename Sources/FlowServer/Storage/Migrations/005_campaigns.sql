-- Outbound campaigns (docs/operations.md, "Outbound campaigns"): the campaign, its call list
-- with each number's progress, every attempt, the do-not-call lists (global: campaign '') and
-- the audit of numbers refused because of them.

CREATE TABLE campaigns (
    name           text PRIMARY KEY,
    mode           text NOT NULL,
    queue          text NOT NULL,
    caller_id      text NOT NULL,
    state          text NOT NULL DEFAULT 'created',
    window_start   integer NOT NULL DEFAULT 540,
    window_end     integer NOT NULL DEFAULT 1260,
    timezone       text NOT NULL,
    abandon_cap    double precision NOT NULL DEFAULT 0.03,
    message        text NOT NULL DEFAULT '',
    -- outcome → [max attempts, seconds before the next]; absent outcomes are not retried
    retries        jsonb NOT NULL DEFAULT '{"busy": [3, 600], "no-answer": [3, 3600], "failed": [2, 1800], "abandoned": [2, 3600]}',
    owner          text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaign_numbers (
    campaign      text NOT NULL REFERENCES campaigns ON DELETE CASCADE,
    id            integer NOT NULL,
    line          integer NOT NULL,
    number        text NOT NULL,
    timezone      text,
    fields        jsonb NOT NULL DEFAULT '{}',
    attempts      integer NOT NULL DEFAULT 0,
    next_at       double precision NOT NULL DEFAULT 0,
    done          boolean NOT NULL DEFAULT false,
    last_outcome  text,
    PRIMARY KEY (campaign, id)
);

CREATE TABLE campaign_attempts (
    event_key  text PRIMARY KEY,   -- campaign/number/attempt/outcome: a replayed spool adds nothing twice
    campaign   text NOT NULL,
    number_id  integer NOT NULL,
    number     text NOT NULL,
    attempt    integer NOT NULL,
    outcome    text NOT NULL,
    detail     text NOT NULL DEFAULT '',
    -- the agent who took the call, and its disposition (sale, callback, not-interested …) and note
    agent       text,
    disposition text,
    note        text,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_attempts_campaign ON campaign_attempts (campaign, at);

CREATE TABLE dnc (
    number    text NOT NULL,
    campaign  text NOT NULL DEFAULT '',
    reason    text NOT NULL DEFAULT '',
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (number, campaign)
);

CREATE TABLE dnc_refusals (
    event_key text PRIMARY KEY,
    campaign  text NOT NULL,
    number    text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
