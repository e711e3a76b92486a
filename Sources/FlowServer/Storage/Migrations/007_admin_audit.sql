-- Administration from App-Operate (docs/operations.md, "Operators and agents"): who changed
-- what, when — every operator added, edited, disabled, enabled, or given a new password.

CREATE TABLE admin_audit (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    admin     text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX admin_audit_at ON admin_audit (at);
