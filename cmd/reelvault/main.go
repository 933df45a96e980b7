// Command reelvault tracks video-generation tasks on an asynchronous gateway,
// archives every finished video into S3, MinIO or a local folder before its
// signed URL expires, and keeps a SQLite catalog of what it holds.
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/reelvault/reelvault/archiver"
	"github.com/reelvault/reelvault/catalog"
)

func main() {
	stopProfiles := startProfiles()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	stopProfiles()
	if err != nil {
		reportError(os.Stderr, err)
	}
	os.Exit(exitCode(err))
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	configPath string
	logLevel   string
	logFormat  string
}

func newRootCommand() *cobra.Command {
	var gopts globalOptions
	root := &cobra.Command{
		Use:           "reelvault",
		Short:         "Keep every AI video you paid for: poll tasks, archive their videos before the URLs expire",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&gopts.configPath, "config", "", "config file (default $REELVAULT_CONFIG, else ./reelvault.yaml when present, else built-in defaults)")
	f.StringVar(&gopts.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&gopts.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(
		newTrackCommand(&gopts),
		newRunCommand(&gopts),
		newCatalogCommand(&gopts),
		newSimulateCommand(),
		newVerifyCommand(&gopts),
		newCleanupCommand(&gopts),
		newDoctorCommand(&gopts),
		newProxyCommand(&gopts),
		newServeCommand(&gopts),
		newDiscoverCommand(&gopts),
	)
	return root
}

// exitCode maps an error to the process exit code documented in README.md.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, archiver.ErrKeyRejected):
		return 3
	case errors.Is(err, errDeadline):
		return 4
	case errors.Is(err, errLost):
		return 5
	case errors.Is(err, catalog.ErrLocked):
		return 6
	case errors.Is(err, errVerifyFailed):
		return 7
	default:
		return 1
	}
}
