#ifndef VIGIL_CSQLITE_SHIM_H
#define VIGIL_CSQLITE_SHIM_H
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro over a cast that Swift cannot import.
static inline sqlite3_destructor_type vigil_sqlite_transient(void) {
    return (sqlite3_destructor_type)-1;
}

// SQLITE_STATIC likewise: the bound buffer outlives the statement step.
static inline sqlite3_destructor_type vigil_sqlite_static(void) {
    return (sqlite3_destructor_type)0;
}
#endif
