-- Charging (docs/operations.md, "Charging"): tariff versions with the date they take effect,
-- an audit of every tariff change, and one charge per rated call.

-- The line a call came in on or went out through (a trunk's name, or 'sip'): trunk services.
ALTER TABLE calls ADD COLUMN line text;

CREATE TABLE tariff_versions (
    version        integer PRIMARY KEY,
    effective_from date NOT NULL,
    source         text NOT NULL,
    published_by   text NOT NULL,
    published_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tariff_audit (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    operator text NOT NULL,
    action   text NOT NULL,
    version  integer,
    detail   text NOT NULL DEFAULT ''
);

-- Money in integer fen. A call without a row was not chargeable (never answered, or no
-- service or tariff version applied to it).
CREATE TABLE call_charges (
    call_id        uuid PRIMARY KEY REFERENCES calls ON DELETE CASCADE,
    tariff_version integer NOT NULL,
    service        text NOT NULL,
    grade          text NOT NULL DEFAULT '',
    seconds        integer NOT NULL,
    units          integer NOT NULL,
    basic_fen      bigint NOT NULL,
    info_fee_fen   bigint NOT NULL,
    total_fen      bigint NOT NULL,
    bands          jsonb NOT NULL DEFAULT '{}',
    rated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_charges_service ON call_charges (service);
