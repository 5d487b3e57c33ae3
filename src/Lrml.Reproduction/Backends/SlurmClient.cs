using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Lrml.Reproduction.Backends;

/// <summary>One array task in the queue: array job id, task index, state (PENDING, RUNNING, COMPLETING, …) and reason.</summary>
internal sealed record QueuedTask(string JobId, int Task, string State, string Reason);

/// <summary>What the kit asks of Slurm: submit a job script, list this user's queued tasks, and tell how a task ended.</summary>
internal interface ISlurmClient
{
    /// <summary>Submits <paramref name="script"/> with sbatch (with <c>--array=</c><paramref name="array"/> overriding the
    /// script's when given) and returns the job id.</summary>
    string Submit(string script, string? array = null);

    /// <summary>This user's array tasks still in the queue (pending, running, completing, requeued, …).</summary>
    IReadOnlyList<QueuedTask> Queue();

    /// <summary>How a task that left the queue ended (COMPLETED, FAILED, CANCELLED, TIMEOUT, PREEMPTED, OUT_OF_MEMORY, …), from
    /// sacct when the cluster keeps accounting, else from scontrol while the controller still remembers the job; null when
    /// neither knows.</summary>
    string? FinalState(string jobId, int task);
}

/// <summary>The real client: runs sbatch, squeue, sacct and scontrol (found on PATH, configured by the usual SLURM_CONF or
/// /etc/slurm).</summary>
internal sealed class SlurmCommands : ISlurmClient
{
    /// <summary>Whether sbatch is on the PATH.</summary>
    public static bool Installed() => FindOnPath("sbatch") is not null;

    /// <summary>The full path of a program on the PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string p = Path.Combine(dir, program);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <inheritdoc/>
    public string Submit(string script, string? array = null)
    {
        var args = new List<string> { "--parsable" };
        if (array is not null) args.Add("--array=" + array);
        args.Add(script);
        var (code, stdout, stderr) = Exec("sbatch", args);
        if (code != 0) throw new IOException($"sbatch {script} failed (exit {code}): {FirstLines(stderr + stdout)}");
        string id = stdout.Trim().Split('\n')[^1].Split(';')[0].Trim();
        if (!Regex.IsMatch(id, @"^\d+$")) throw new IOException($"sbatch {script} printed no job id: {FirstLines(stdout + stderr)}");
        return id;
    }

    /// <inheritdoc/>
    public IReadOnlyList<QueuedTask> Queue()
    {
        // -r: one line per array task (pending ranges expanded); %F array job id, %K task index, %T state, %r reason
        var (code, stdout, stderr) = Exec("squeue", ["-h", "-r", "-u", Environment.UserName, "-o", "%F|%K|%T|%r"]);
        if (code != 0) throw new IOException($"squeue failed (exit {code}): {FirstLines(stderr + stdout)}");
        var list = new List<QueuedTask>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split('|');
            if (f.Length < 4 || !int.TryParse(f[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int task)) continue; // not an array task
            list.Add(new QueuedTask(f[0], task, f[2], f[3]));
        }
        return list;
    }

    /// <inheritdoc/>
    public string? FinalState(string jobId, int task)
    {
        var (code, stdout, _) = Exec("sacct", ["-n", "-P", "-X", "-j", $"{jobId}_{task}", "-o", "State"]);
        if (code == 0)
        {
            string s = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
            if (s.Length > 0) return s.Split(' ')[0];
        }
        // no accounting storage (a cluster without slurmdbd): the controller remembers finished jobs for MinJobAge seconds
        (code, stdout, _) = Exec("scontrol", ["show", "job", "-o", jobId]);
        if (code != 0) return null;
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var t = Regex.Match(line, @"\bArrayTaskId=(\d+)\b");
            if (!t.Success || t.Groups[1].Value != task.ToString(CultureInfo.InvariantCulture)) continue;
            var state = Regex.Match(line, @"\bJobState=(\S+)");
            var exit = Regex.Match(line, @"\bExitCode=(\S+)");
            return state.Success ? state.Groups[1].Value + (exit.Success && exit.Groups[1].Value != "0:0" ? $" (exit {exit.Groups[1].Value})" : "") : null;
        }
        return null;
    }

    private static string FirstLines(string text) => string.Join(" ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(3));

    private static (int Code, string Stdout, string Stderr) Exec(string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi) ?? throw new IOException($"could not start {program}");
            var err = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(120_000)) { p.Kill(true); throw new IOException($"{program} did not answer within 2 minutes."); }
            return (p.ExitCode, output, err.Result);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new IOException($"{program} could not be run ({ex.Message}): is Slurm installed on this machine (slurm-client)?", ex);
        }
    }
}
