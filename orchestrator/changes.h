/* SPDX-License-Identifier: Apache-2.0 */
#ifndef VMRUN_CHANGES_H
#define VMRUN_CHANGES_H

#include <jansson.h>
#include <stdio.h>

/* 1 when the changes object lists violations of --allow-write, else 0. */
int changes_has_violations(const json_t *changes);

/* A readable summary: counts, then up to 20 paths per list (control
 * characters and invalid UTF-8 escaped as \xNN). */
void changes_summary(const json_t *changes, FILE *out);

#endif
