-- Agents may call outside numbers only when allowed (呼叫外线 with a permission flag).
ALTER TABLE users ADD COLUMN may_call_external boolean NOT NULL DEFAULT false;

-- Which Flow-Server each logged-in agent is attached to, and the queues it serves, so that a
-- Flow-Server with a call for a queue and no agent of its own can hand the call to one that
-- has (docs/architecture.md). Each Flow-Server refreshes its rows every few seconds; rows older
-- than that belong to a Flow-Server that is gone.
CREATE TABLE agent_presence (
    agent       text PRIMARY KEY,
    flow_server text NOT NULL,
    queues      text[] NOT NULL,
    state       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_presence_server ON agent_presence (flow_server);
