package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
)

// startProfiles starts the profiles named by two undocumented environment
// variables, for bench/README.md's profiling recipe only:
// REELVAULT_CPUPROFILE=path writes a CPU profile, REELVAULT_MEMPROFILE=path
// an allocation profile (one sample per 4 KiB allocated). "%p" in a path is
// replaced by the process id, so a benchmark's many runs keep a profile each.
// The returned function writes them; main calls it before exiting.
func startProfiles() (stop func()) {
	pid := strconv.Itoa(os.Getpid())
	cpuPath := strings.ReplaceAll(os.Getenv("REELVAULT_CPUPROFILE"), "%p", pid)
	memPath := strings.ReplaceAll(os.Getenv("REELVAULT_MEMPROFILE"), "%p", pid)
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "reelvault: cpu profile:", err)
		} else {
			cpu = f
		}
	}
	if memPath != "" {
		runtime.MemProfileRate = 4096
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			_ = cpu.Close()
		}
		if memPath != "" {
			if err := writeHeapProfile(memPath); err != nil {
				fmt.Fprintln(os.Stderr, "reelvault: allocation profile:", err)
			}
		}
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
