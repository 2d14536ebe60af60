def test_ingest_creates_conversation(ingest, team):
    result = ingest()
    assert result.created and result.conversation_created
    assert result.conversation.team == team
    assert result.conversation.first_human_response_due is not None
