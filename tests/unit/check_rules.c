/* check_rules.c: check.h's verdicts, for tests/integration/test_harness_rules.py
 * (not a test of its own): `check_rules none` makes no check (must exit 1),
 * `check_rules skip` skips (must exit 77 with its reason), `check_rules one`
 * makes one passing check (exit 0), `check_rules fail` one failing (exit 1). */
#include <string.h>

#include "check.h"

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "skip"))
        return check_skip("check_rules", "asked to skip (a reason is printed)");
    if (!strcmp(mode, "one"))
        CHECK(1 + 1 == 2);
    if (!strcmp(mode, "fail"))
        CHECK(1 + 1 == 3);
    return check_report("check_rules");
}
