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
    kind            TEXT NOT NULL CHECK (kind IN ('answer', 'ask', 'decline')),
    answer          TEXT NOT NULL,
    -- The whole reply (interpretation, SQL, rows as shown, chart, provenance).
    reply           JSONB NOT NULL,
    elapsed_ms      INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation_id, id);
