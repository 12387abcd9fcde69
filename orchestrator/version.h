/* SPDX-License-Identifier: Apache-2.0 */
#ifndef VMRUN_VERSION_H
#define VMRUN_VERSION_H
#define VMRUN_VERSION "0.1.0"
#endif
