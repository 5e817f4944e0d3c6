"""tandem_lab: tandem's end-to-end harness (the library the e2e tests, the benchmarks and
run-qemu.sh share). Import it with `tools/` on PYTHONPATH (CTest sets it; from the repository
root: `PYTHONPATH=tools python3 -m tandem_lab.cli.<program>`).

Library, one concept per module:
  paths             the repository, the build directory, per-run work directories (workdir())
  programs          the package's command-line programs as subprocess commands (and their PYTHONPATH)
  console_patterns  the lines of tandem's serial console that the harness and the tests wait for
  console_view      the raw console (tandem's lines marked, the guest's as written) back to "guest: " lines
  proctree          finding and killing a process's descendants
  emulator          EmulatorRun: one emulator with a hard deadline, its serial console, its work directory
  bochs, qemu       the two emulators (Bochs with VT-x; QEMU for boot paths and KVM)
  media             boot media: GRUB ISO and PXE tree with a command line and modules
  mbi_dump          the multiboot 2 block tandem prints with dump_boot_info=1
  netns             ClientNetwork: a client network in a network namespace (root)
  linktest          two Bochs machines in mode=linktest on the test hub
  pair_lab          PairLab: a protected pair on two Bochs machines with a real client
  testhub/          the fault-injecting test hub: faults, the hub itself, TestHub (the hub as a
                    subprocess), Endpoint (an emulated Bochs NIC), PxeBochs (a real one)

Command-line programs (tandem_lab.cli.*, run with `python3 -m`):
  emulator          boot one ISO in Bochs or QEMU and show tandem's console (run-qemu.sh --single)
  pair_demo         the protected-pair demo (run-qemu.sh, as root)
  counter_client    the counter service's client (the pair lab runs it in the client network)
  testhub           the test hub (TestHub runs it)
"""
