-- vault-term, after 0102: triple_term records the (subject, predicate, object) its triple was
-- counted under in predicate_object / subject_predicate. A later TripleCreated of the same term id
-- may give the triple other ids (newest event wins in `triple`); the analytics then move the
-- triple's contribution from the recorded pairs to the new ones (docs/vault-term.md, "Choices").
-- Existing rows were counted under their triple's current ids.
ALTER TABLE triple_term ADD COLUMN subject_id TEXT;
ALTER TABLE triple_term ADD COLUMN predicate_id TEXT;
ALTER TABLE triple_term ADD COLUMN object_id TEXT;
UPDATE triple_term tt SET subject_id = tr.subject_id, predicate_id = tr.predicate_id, object_id = tr.object_id
  FROM triple tr WHERE tr.term_id = tt.term_id;
