/* anki-model.h - the note types mdeck owns: ids, field lists, templates, CSS.
 *
 * A note type is matched on import by its id and its "schema" (field names
 * and template names, in order).  Neither may ever change once published:
 * a changed schema makes importers create a copy of the note type and stop
 * updating the notes users already have.  Only CSS and template text may
 * change, and then the model's mod must be bumped (tests/unit/test_apkg.c
 * holds the recorded fingerprint that enforces this). */
#ifndef MDECK_ANKI_MODEL_H
#define MDECK_ANKI_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Field positions, identical in every mdeck note type of a kind. */
enum { FLD_QUESTION = 0, FLD_ANSWER = 1, FLD_SOURCE = 2 }; /* Basic(+Reversed) */
enum { FLD_TEXT = 0, FLD_EXTRA = 1, FLD_CLOZE_SOURCE = 2 }; /* Cloze */

#define ANKI_MODEL_STANDARD 0
#define ANKI_MODEL_CLOZE 1

/* Cloze numbers Anki accepts: {{c1::…}} … {{c500::…}}. */
#define ANKI_MAX_CLOZE 500

struct anki_template {
    const char *name;
    const char *qfmt, *afmt;
    int req_field; /* the field that must be non-empty for this card */
};

struct anki_model {
    int64_t id;             /* MDECK_MODEL_* */
    const char *name;
    int type;               /* ANKI_MODEL_STANDARD or ANKI_MODEL_CLOZE */
    int64_t mod;            /* seconds; bumped when css/templates change */
    const char *const *fields;
    size_t nfields;
    const struct anki_template *tmpls;
    size_t ntmpls;
    const char *css;
};

/* Every mdeck note type, in id order. */
extern const struct anki_model *const anki_models[];
extern const size_t anki_nmodels;

/* The note type with this id, or NULL. */
const struct anki_model *anki_model_find(int64_t id);

/* The model's schema-11 JSON object (every key both importers need); did is
 * the package deck the model points at. Caller owns the reference. */
json_t *anki_model_json(const struct anki_model *m, int64_t did);

/* Card ordinals a note with these field values gets, ascending: one per
 * template whose required field is non-empty; for Cloze one per distinct
 * {{cN::…}} in Text (ord N-1), or ord 0 when there is none.  Returns the
 * count (at most ANKI_MAX_CLOZE entries written to ords). */
size_t anki_card_ords(const struct anki_model *m, const char *const *fields,
                      int *ords);

/* Lower-case hex SHA-256 over the model's name, field names, template names
 * and text, and CSS: what a mod bump must accompany. out holds 65 bytes. */
void anki_model_fingerprint(const struct anki_model *m, char out[65]);

#endif
