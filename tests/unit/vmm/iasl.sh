#!/bin/sh
# ACPICA's disassembler reads our DSDT and MCFG with PCI (the tables
# test_acpi --dump writes) without an error, and finds the root bridge,
# its resources and its interrupt routing where Linux's ACPI code will.
#   iasl.sh TEST_ACPI IASL
set -eu
test_acpi=$1 iasl=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$test_acpi" --dump "$dir"
cd "$dir"
"$iasl" -d DSDT.dat MCFG.dat >iasl.log 2>&1 || { cat iasl.log; echo "iasl: cannot disassemble"; exit 1; }
if grep -q -i "error" iasl.log; then cat iasl.log; exit 1; fi
fail=0
want() {
	grep -q -- "$2" "$1" || { echo "iasl.sh: $1 lacks: $2"; fail=1; }
}
want DSDT.dsl 'Device (PCI0)'
want DSDT.dsl 'EisaId ("PNP0A08")'
want DSDT.dsl 'EisaId ("PNP0A03")'
want DSDT.dsl 'WordBusNumber'
want DSDT.dsl 'IO (Decode16'
want DSDT.dsl 'DWordMemory'
want DSDT.dsl '0xDFFFFFFF'
want DSDT.dsl 'Name (_PRT, Package (0x80)'
want DSDT.dsl 'EisaId ("PNP0C02")'
want DSDT.dsl 'Memory32Fixed (ReadWrite'
want DSDT.dsl 'Name (_S5, Package (0x04)'
want MCFG.dsl 'Base Address : 00000000E0000000'
want MCFG.dsl 'End Bus Number : 00'
[ $fail -eq 0 ] && echo "iasl.sh: DSDT and MCFG disassemble as expected"
exit $fail
