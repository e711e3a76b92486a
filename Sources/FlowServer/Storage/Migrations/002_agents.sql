-- Agents may call outside numbers only when allowed (呼叫外线 with a permission flag).
ALTER TABLE users ADD COLUMN may_call_external boolean NOT NULL DEFAULT false;
