using System.CommandLine;
using System.Globalization;
using System.Reflection;
using Lrml.Models;
using Lrml.Reproduction.Backends;

namespace Lrml.Cli;

/// <summary>`--backend local|slurm`, `--jobs N` (local runs in parallel child processes) and the Slurm pass-through options of `lrml sweep` and `lrml reproduce main-table|ablations`.</summary>
internal static class BackendOptions
{
    public static readonly Option<string> Backend = new("--backend") { Description = "Where the runs train: local (here: one after the other, or --jobs N at a time) | slurm (one sbatch job array on the cluster; the results folder must be on a file system the nodes share)", DefaultValueFactory = _ => "local" };
    public static readonly Option<string?> Partition = new("--partition") { Description = "slurm: partition (default: the cluster's)" };
    public static readonly Option<string?> Account = new("--account") { Description = "slurm: account to charge" };
    public static readonly Option<string?> Time = new("--time") { Description = "slurm: time limit of one task = one run (minutes, HH:MM:SS or D-HH:MM:SS; default: 2 × the kit's estimate + 10 min)" };
    public static readonly Option<int?> Cpus = new("--cpus-per-task") { Description = "slurm: CPUs of one task (default: --threads)" };
    public static readonly Option<string?> Mem = new("--mem") { Description = "slurm: memory of one task, e.g. 4G or 4096 (default: the kit's estimate of the largest run)" };
    public static readonly Option<string?> Gres = new("--gres") { Description = "slurm: generic resources, e.g. gpu:1 for the CUDA build" };
    public static readonly Option<string[]> Sbatch = new("--sbatch") { Description = "slurm: an extra #SBATCH line as an sbatch option, e.g. --sbatch=--qos=long (repeatable)", AllowMultipleArgumentsPerToken = false };
    public static readonly Option<int?> Throttle = new("--array-throttle") { Description = "slurm: at most N tasks of the array run at once (--array=…%N)" };
    public static readonly Option<bool> NoWait = new("--no-wait") { Description = "slurm: submit and return; run the same command again later to collect what finished (and resubmit what failed)" };
    public static readonly Option<bool> DryRun = new("--dry-run") { Description = "slurm: print the job script and the runs; write no job file and submit nothing" };
    public static readonly Option<int> Retries = new("--retries") { Description = "slurm: resubmit a run whose task ended without a result (failed, cancelled, timed out) up to N times; it resumes from its checkpoint", DefaultValueFactory = _ => 2 };
    public static readonly Option<bool> SkipSharedFsCheck = new("--skip-shared-fs-check") { Description = "slurm: accept a results folder on /tmp or a tmpfs (only when the cluster is this one machine)" };
    public static readonly Option<double> Poll = new("--poll-seconds") { Description = "slurm: seconds between two looks at the queue while waiting", DefaultValueFactory = _ => 5 };

    public static readonly Option<int> Jobs = new("--jobs", "-j")
    {
        Description = "local: train N runs at a time, each in its own process (`lrml train --spec`, output in run.log in its run directory) with " +
                      "--threads / N threads (rounded down; a run's threads are part of its identity, so --jobs 2 --threads 4 trains exactly " +
                      "the runs of --jobs 1 --threads 2); tables in the serial order. 1 = one after the other in this process",
        DefaultValueFactory = _ => 1,
    };

    public static IEnumerable<Option> All =>
        [Backend, Jobs, Partition, Account, Time, Cpus, Mem, Gres, Sbatch, Throttle, NoWait, DryRun, Retries, SkipSharedFsCheck, Poll];

    private static IEnumerable<Option> SlurmOnly => All.Where(o => o != Backend && o != Jobs);

    /// <summary>The --jobs value, checked: ≥ 1, local backend only, at most --threads (each job needs a thread of the budget).
    /// A bad value is a usage error (exit code 2).</summary>
    public static int JobsOf(ParseResult p)
    {
        int jobs = p.GetValue(Jobs), threads = p.GetValue(CommonOptions.Threads);
        if (p.GetResult(Jobs) is not { Implicit: false }) return 1;
        if (jobs < 1) throw new SettingException($"--jobs must be ≥ 1 (got {jobs}).");
        if (!p.GetValue(Backend)!.Trim().Equals("local", StringComparison.OrdinalIgnoreCase))
            throw new SettingException("--jobs applies to --backend local: on a cluster the array tasks already run in parallel (--array-throttle limits how many at once).");
        if (jobs > threads)
            throw new SettingException($"--jobs {jobs} needs at least {jobs} threads, one per job (--threads is {threads}): lower --jobs or raise --threads.");
        return jobs;
    }

    /// <summary>The threads of each run: --threads, shared out over --jobs (rounded down, so jobs × threads per run ≤ --threads);
    /// with one job --threads as given (a bad value is refused where the run is checked).</summary>
    public static int RunThreads(ParseResult p) => JobsOf(p) is int jobs and > 1 ? p.GetValue(CommonOptions.Threads) / jobs : p.GetValue(CommonOptions.Threads);

    /// <summary>The backend the options ask for (local unless --backend slurm). Slurm options without --backend slurm are an
    /// error, so that a cluster setting is never silently ignored.</summary>
    public static IRunBackend From(ParseResult p)
    {
        string backend = p.GetValue(Backend)!.Trim().ToLowerInvariant();
        int jobs = JobsOf(p);
        if (backend == "local")
        {
            var given = SlurmOnly.Where(o => p.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
            if (given.Count > 0) throw new ArgumentException($"{string.Join(", ", given)} apply to --backend slurm only.");
            return jobs == 1 ? LocalBackend.Instance : new JobsBackend(jobs, TaskCommand());
        }
        if (backend != "slurm") throw new ArgumentException($"--backend must be local or slurm (got '{backend}').");
        var settings = new SlurmSettings
        {
            Command = TaskCommand(),
            Partition = p.GetValue(Partition),
            Account = p.GetValue(Account),
            Time = p.GetValue(Time) is string t ? SlurmSettings.ParseTime(t) : null,
            CpusPerTask = p.GetValue(Cpus),
            MemoryMb = p.GetValue(Mem) is string m ? SlurmSettings.ParseMemoryMb(m) : null,
            Gres = p.GetValue(Gres),
            ExtraLines = p.GetValue(Sbatch) ?? [],
            Throttle = p.GetValue(Throttle),
            Wait = !p.GetValue(NoWait),
            DryRun = p.GetValue(DryRun),
            Retries = p.GetValue(Retries),
            SkipSharedFileSystemCheck = p.GetValue(SkipSharedFsCheck),
            PollSeconds = p.GetValue(Poll),
            Output = Console.Out,
        };
        settings.Validate();
        if (!settings.DryRun && !SlurmCommands.Installed())
            throw new ArgumentException("--backend slurm needs Slurm's sbatch on the PATH (a login node of the cluster, or build/slurm-local-cluster.sh " +
                                        "for a one-machine cluster); --dry-run shows the job without it.");
        return new SlurmBackend(settings);
    }

    /// <summary>The command that starts this same lrml on a node: the apphost, or `dotnet Lrml.Cli.dll` when run through dotnet.</summary>
    public static IReadOnlyList<string> TaskCommand()
    {
        string process = Environment.ProcessPath ?? throw new ArgumentException("Cannot tell which lrml binary runs: start lrml from its file.");
        string name = Path.GetFileNameWithoutExtension(process);
        if (name.Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            string dll = Assembly.GetEntryAssembly()?.Location is { Length: > 0 } l ? l : throw new ArgumentException("Cannot locate Lrml.Cli.dll.");
            return [process, dll];
        }
        return [process];
    }

    /// <summary>Prints runs that have not ended (queued, missing) with their messages; returns the exit code: 0 when they are
    /// only queued (come back later), 1 when some ended without a result. After a dry run (which printed the job) it says
    /// nothing more.</summary>
    public static int Report(RunsOutstandingException e, IRunBackend backend)
    {
        if (backend is SlurmBackend { Settings.DryRun: true }) return 0;
        // plain lines (no wrapping at the console width): paths and job ids stay whole in logs
        foreach (var r in e.Runs)
            Console.WriteLine($"  {r.State.ToString().ToLowerInvariant()}: {SlurmBackend.Describe(r.Planned.Spec)}: {r.Message}");
        if (e.OnlyQueued) { Console.WriteLine(e.Message); return 0; }
        LrmlCommandLine.PrintError(e.Message);
        return 1;
    }

    /// <summary>Prints the runs a finished table is missing; returns 1 when there are any (the table is incomplete).</summary>
    public static int ReportMissing(IReadOnlyList<BackendRun> missing, bool collecting)
    {
        if (missing.Count == 0) return 0;
        foreach (var r in missing)
            Console.WriteLine($"  {r.State.ToString().ToLowerInvariant()}: {SlurmBackend.Describe(r.Planned.Spec)}: {r.Message}");
        string text = string.Create(CultureInfo.InvariantCulture,
            $"{missing.Count} run(s) are missing from the tables (listed in their notes); the means use the runs that finished.");
        if (collecting) { Console.WriteLine(text); return 0; }
        LrmlCommandLine.PrintError(text + " The same command trains the runs that ended without a result again (diverged runs need other settings).");
        return 1;
    }
}
