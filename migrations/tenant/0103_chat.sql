-- Chat memory: the unused one-table `conversations` becomes conversations and their turns.
DROP TABLE IF EXISTS conversations;

CREATE TABLE conversations (
    id         BIGSERIAL PRIMARY KEY,
    -- The signed-in user's email or the API key's name: who may read the conversation.
    owner      TEXT NOT NULL,
    title      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX conversations_owner ON conversations (owner, updated_at DESC);

CREATE TABLE chat_messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    question        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('answer', 'ask', 'decline', 'failed')),
    answer          TEXT NOT NULL,
    -- The whole reply (interpretation, SQL, rows as shown, chart, provenance).
    reply           JSONB NOT NULL,
    elapsed_ms      INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation_id, id);

-- Every language-model call: who, for which conversation, what it used and cost.
CREATE TABLE llm_usage (
    id                BIGSERIAL PRIMARY KEY,
    owner             TEXT NOT NULL,
    conversation_id   BIGINT REFERENCES conversations (id) ON DELETE SET NULL,
    model             TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          NUMERIC(14, 6) NOT NULL,
    latency_ms        INTEGER NOT NULL,
    error             TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX llm_usage_month ON llm_usage (created_at);
