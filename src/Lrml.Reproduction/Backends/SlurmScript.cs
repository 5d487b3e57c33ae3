using System.Globalization;
using System.Text;

using Lrml.Experiments;

namespace Lrml.Reproduction.Backends;

/// <summary>
/// The sbatch job-array script of a submission: one array task = one run. Task i reads specs/i.json from the job folder
/// and runs the same lrml binary with <c>train --spec</c>, which trains the run into its directory through
/// <see cref="RunStore.RunOrLoad"/> (reusing it when it finished, resuming it from its checkpoint when it was interrupted).
/// </summary>
internal static class SlurmScript
{
    /// <summary>File name of the script inside the job folder.</summary>
    public const string FileName = "job.sh";

    /// <summary>Exit code of a task that cannot read the job folder's probe file (the folder is not shared with its node).</summary>
    public const int NotSharedExitCode = 3;

    /// <summary>
    /// The script text. <paramref name="runs"/> is the number of array tasks (0 … runs − 1); the scheduler settings come from
    /// <paramref name="settings"/> and <paramref name="resources"/>; <paramref name="probeToken"/> is the content of the job
    /// folder's probe file, which every task checks first.
    /// </summary>
    public static string Render(string jobDirectory, int runs, string label, SlurmSettings settings, TaskResources resources,
        string dataRoot, string resultsRoot, string probeToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(resources);
        if (runs < 1) throw new ArgumentException("A job array needs at least one run.", nameof(runs));
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n");
        sb.Append(ci, $"# lrml: {runs} run(s) ({label}) as one Slurm job array; array task i runs specs/i.json of {jobDirectory}.\n");
        sb.Append("# Written by lrml (commit ").Append(Provenance.Commit).Append("). A task that ends without a result is resubmitted\n");
        sb.Append("# with --array=<its index> and resumes from its checkpoint; the folder must be on a file system the nodes share.\n");
        sb.Append(ci, $"#SBATCH --job-name=lrml-{Sanitise(label)}\n");
        sb.Append(ci, $"#SBATCH --array={ArraySpec(Enumerable.Range(0, runs), settings.Throttle)}\n");
        sb.Append(ci, $"#SBATCH --output={Path.Combine(jobDirectory, "logs")}/%A_%a.out\n");
        sb.Append("#SBATCH --open-mode=append\n");
        sb.Append("#SBATCH --requeue\n");
        sb.Append(ci, $"#SBATCH --time={SlurmSettings.FormatTime(resources.Time)}\n");
        sb.Append(ci, $"#SBATCH --cpus-per-task={resources.Cpus}\n");
        sb.Append(ci, $"#SBATCH --mem={resources.MemoryMb}M\n");
        if (settings.Partition is not null) sb.Append(ci, $"#SBATCH --partition={settings.Partition}\n");
        if (settings.Account is not null) sb.Append(ci, $"#SBATCH --account={settings.Account}\n");
        if (settings.Gres is not null) sb.Append(ci, $"#SBATCH --gres={settings.Gres}\n");
        foreach (var line in settings.ExtraLines) sb.Append("#SBATCH ").Append(line.Trim()).Append('\n');
        sb.Append("set -u\n");
        sb.Append("job_dir=").Append(Quote(jobDirectory)).Append('\n');
        sb.Append("task=${SLURM_ARRAY_TASK_ID:?this script runs as a Slurm array task (sbatch --array)}\n");
        sb.Append("if [ \"$(cat \"$job_dir/probe\" 2>/dev/null)\" != ").Append(Quote(probeToken)).Append(" ]; then\n");
        sb.Append("  echo \"lrml: cannot read $job_dir/probe on $(hostname): the results folder must be on a file system shared by the submitting machine and the compute nodes\" >&2\n");
        sb.Append(ci, $"  exit {NotSharedExitCode}\n");
        sb.Append("fi\n");
        sb.Append("echo \"lrml: task ${SLURM_ARRAY_JOB_ID}_${task} on $(hostname), start $(( ${SLURM_RESTART_COUNT:-0} + 1 )), $(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n");
        sb.Append("exec");
        foreach (var part in settings.Command) sb.Append(' ').Append(Quote(part));
        sb.Append(" --data-dir ").Append(Quote(dataRoot)).Append(" --results ").Append(Quote(resultsRoot));
        sb.Append(" train --spec \"$job_dir/specs/$task.json\"\n");
        return sb.ToString();
    }

    /// <summary>An --array value: ranges of consecutive indices ("0-7", "1,3,5-6") and the throttle ("%4").</summary>
    public static string ArraySpec(IEnumerable<int> indices, int? throttle)
    {
        var sorted = indices.Distinct().Order().ToList();
        if (sorted.Count == 0) throw new ArgumentException("An array needs at least one index.", nameof(indices));
        var parts = new List<string>();
        int start = sorted[0], prev = sorted[0];
        foreach (int i in sorted.Skip(1).Append(int.MinValue))
        {
            if (i == prev + 1) { prev = i; continue; }
            parts.Add(start == prev ? start.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{start}-{prev}"));
            start = prev = i;
        }
        return string.Join(",", parts) + (throttle is int t ? "%" + t.ToString(CultureInfo.InvariantCulture) : "");
    }

    /// <summary>A word for the shell in single quotes.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string Sanitise(string label) =>
        new(label.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray());
}
