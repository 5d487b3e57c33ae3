using System.Globalization;
using System.Text.RegularExpressions;

namespace Lrml.Reproduction.Backends;

/// <summary>
/// The scheduler settings of a Slurm submission, passed through to the job script's #SBATCH lines. Null values are left to
/// the kit (time and memory from its estimate of the run, CPUs from the runs' threads) or to the cluster's defaults
/// (partition, account).
/// </summary>
internal sealed record SlurmSettings
{
    /// <summary>The command that starts the kit on a node, e.g. ["/home/me/lrml/Lrml.Cli"] or ["/usr/bin/dotnet", ".../Lrml.Cli.dll"].
    /// It must be reachable from the nodes (the same binary the submitting command runs).</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>--partition.</summary>
    public string? Partition { get; init; }

    /// <summary>--account.</summary>
    public string? Account { get; init; }

    /// <summary>--time of one task (one run); null = from the kit's estimate (see <see cref="TaskResources"/>).</summary>
    public TimeSpan? Time { get; init; }

    /// <summary>--cpus-per-task; null = the runs' threads.</summary>
    public int? CpusPerTask { get; init; }

    /// <summary>--mem of one task in MB; null = from the kit's estimate (see <see cref="TaskResources"/>).</summary>
    public int? MemoryMb { get; init; }

    /// <summary>--gres, e.g. "gpu:1" for the CUDA build (null = none).</summary>
    public string? Gres { get; init; }

    /// <summary>Further #SBATCH lines, each an sbatch option such as "--qos=long" or "--constraint=avx2".</summary>
    public IReadOnlyList<string> ExtraLines { get; init; } = [];

    /// <summary>At most this many array tasks run at once (--array=…%N); null = no limit.</summary>
    public int? Throttle { get; init; }

    /// <summary>Wait for the job with progress (true), or return right after submitting (--no-wait).</summary>
    public bool Wait { get; init; } = true;

    /// <summary>Print the job script and the runs instead of submitting.</summary>
    public bool DryRun { get; init; }

    /// <summary>How many times a run whose task ended without a result (failed, cancelled, timed out, preempted and not
    /// requeued) is resubmitted while waiting.</summary>
    public int Retries { get; init; } = 2;

    /// <summary>Skip the check that the results folder is on a shared file system (for a cluster that is this one machine).</summary>
    public bool SkipSharedFileSystemCheck { get; init; }

    /// <summary>Seconds between two looks at the queue while waiting.</summary>
    public double PollSeconds { get; init; } = 5;

    /// <summary>Where the dry run and the progress lines are written (null: the context's observer).</summary>
    public TextWriter? Output { get; init; }

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (Command.Count == 0) throw new ArgumentException("The Slurm backend needs the command that starts lrml on a node.");
        if (CpusPerTask is < 1) throw new ArgumentException($"--cpus-per-task must be ≥ 1 (got {CpusPerTask}).");
        if (MemoryMb is < 1) throw new ArgumentException($"--mem must be positive (got {MemoryMb} MB).");
        if (Throttle is < 1) throw new ArgumentException($"--array-throttle must be ≥ 1 (got {Throttle}).");
        if (Retries < 0) throw new ArgumentException($"--retries must be ≥ 0 (got {Retries}).");
        if (Time is { } t && t <= TimeSpan.Zero) throw new ArgumentException($"--time must be positive (got {t}).");
        if (PollSeconds <= 0) throw new ArgumentException($"The poll interval must be positive (got {PollSeconds}).");
        foreach (var (name, value) in new[] { ("--partition", Partition), ("--account", Account), ("--gres", Gres) })
            if (value is not null && (value.Length == 0 || value.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\' or '$' or '`' or ';')))
                throw new ArgumentException($"{name} '{value}' is not a valid Slurm value (no spaces, quotes or shell characters).");
        foreach (var line in ExtraLines)
            if (!line.StartsWith('-') || line.Contains('\n') || line.Contains('\r'))
                throw new ArgumentException($"--sbatch '{line}' is not an sbatch option: give it as on the sbatch command line, e.g. --sbatch=--qos=long.");
    }

    /// <summary>Parses a Slurm time limit: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
    /// "days-hours:minutes" or "days-hours:minutes:seconds" (sbatch's formats).</summary>
    public static TimeSpan ParseTime(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var m = Regex.Match(text.Trim(), @"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$");
        if (!m.Success)
            throw new ArgumentException($"--time '{text}' is not a Slurm time: use minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS.");
        int N(int g) => m.Groups[g].Success ? int.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : 0;
        TimeSpan t;
        if (m.Groups[1].Success) t = new TimeSpan(N(1), N(2), N(3), N(4));            // days-hours[:minutes[:seconds]]
        else if (m.Groups[4].Success) t = new TimeSpan(N(2), N(3), N(4));              // hours:minutes:seconds
        else if (m.Groups[3].Success) t = new TimeSpan(0, N(2), N(3));                 // minutes:seconds
        else t = TimeSpan.FromMinutes(N(2));                                           // minutes
        if (t <= TimeSpan.Zero) throw new ArgumentException($"--time '{text}' must be positive.");
        return t;
    }

    /// <summary>A time limit as sbatch reads it: "D-HH:MM:SS" (whole seconds, rounded up).</summary>
    public static string FormatTime(TimeSpan t)
    {
        long s = (long)Math.Ceiling(t.TotalSeconds);
        return string.Create(CultureInfo.InvariantCulture, $"{s / 86400}-{s / 3600 % 24:00}:{s / 60 % 60:00}:{s % 60:00}");
    }

    /// <summary>Parses a memory size as sbatch does: a number of megabytes, or with a K, M, G or T suffix.</summary>
    public static int ParseMemoryMb(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var m = Regex.Match(text.Trim(), @"^(\d+(?:\.\d+)?)([KMGT]?)B?$", RegexOptions.IgnoreCase);
        if (!m.Success) throw new ArgumentException($"--mem '{text}' is not a memory size: use megabytes or a K/M/G/T suffix, e.g. 4096 or 4G.");
        double v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        double mb = m.Groups[2].Value.ToUpperInvariant() switch { "K" => v / 1024, "G" => v * 1024, "T" => v * 1024 * 1024, _ => v };
        if (mb < 1 || mb > int.MaxValue) throw new ArgumentException($"--mem '{text}' is out of range.");
        return (int)Math.Ceiling(mb);
    }
}
