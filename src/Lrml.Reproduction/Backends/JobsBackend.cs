using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

using Lrml.Experiments;

namespace Lrml.Reproduction.Backends;

/// <summary>
/// Trains the runs here, <see cref="Jobs"/> at a time, each in its own child process <c>lrml train --spec FILE</c> — the spec
/// file (<see cref="RunSpecFile"/>, in folder/jobs/) and the collection of the end state from the run directory
/// (<see cref="RunEnd"/>) are the Slurm backend's, so a run is described one way wherever it trains, and the child's
/// <see cref="RunStore.RunOrLoad"/> reuses a finished run and resumes an interrupted one. The caller gives each run its share
/// of the threads in its spec (a run's thread count is part of its identity).
/// <list type="bullet">
/// <item>The results are those of the serial order: each run is the same seeded computation whichever process trains it,
/// the list comes back in plan order and <c>onEnded</c> is called in plan order (a run's call waits for the runs before
/// it), so sweeps record their trials in the same order.</item>
/// <item>A child's output goes to <see cref="RunDirectory.LogFile"/> in its run directory (appended, so a resumed run keeps
/// its history); the terminal gets one line per run that ended.</item>
/// <item>A child that ends without a result (an error, a kill) leaves its run <see cref="RunState.Missing"/> with its exit
/// code, the end of its log and the log's path; the other runs go on. Running the same command again trains what is
/// missing and reuses the rest.</item>
/// <item>SIGINT (Ctrl+C), SIGTERM and SIGHUP kill the running children before this process ends, and a child whose parent is
/// gone otherwise (SIGKILL) ends by itself (<see cref="ParentVariable"/>); their runs resume from their checkpoints next time.</item>
/// </list>
/// </summary>
/// <param name="jobs">Runs trained at once (≥ 2; one is <see cref="LocalBackend"/>, in this process).</param>
/// <param name="command">The command that starts lrml, e.g. ["/usr/bin/dotnet", ".../Lrml.Cli.dll"].</param>
internal sealed class JobsBackend(int jobs, IReadOnlyList<string> command) : IRunBackend
{
    /// <summary>Runs trained at once.</summary>
    public int Jobs { get; } = jobs >= 2 ? jobs : throw new ArgumentOutOfRangeException(nameof(jobs), $"--jobs must be ≥ 2 here (got {jobs}).");

    /// <summary>The command that starts lrml.</summary>
    public IReadOnlyList<string> Command { get; } = command is { Count: > 0 } ? command : throw new ArgumentException("The jobs backend needs the command that starts lrml.");

    /// <inheritdoc/>
    public string Name => "local";

    /// <summary>Set to "1" in a child's environment: the child ends when its standard input closes, i.e. when this process is
    /// gone however it ended (SIGKILL included), so no orphan trains on holding its run directory's lock.</summary>
    public const string ParentVariable = "LRML_JOBS_PARENT";

    private sealed record Child(int Index, PlannedRun Planned, Process Process, Task Ended, Stopwatch Clock, string LogPath);

    /// <inheritdoc/>
    public IReadOnlyList<BackendRun> Run(IReadOnlyList<PlannedRun> runs, ExperimentContext context, string folder, string label, Action<BackendRun>? onEnded = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(context);
        var results = new BackendRun?[runs.Count];
        int delivered = 0;
        void Deliver()
        {
            for (; delivered < runs.Count && results[delivered] is { } r; delivered++)
                if (r.State is RunState.Finished or RunState.Diverged) onEnded?.Invoke(r);
        }
        var open = new Queue<int>();
        for (int i = 0; i < runs.Count; i++)
        {
            if (RunEnd.Read(runs[i], context) is { } end)
            {
                results[i] = end;
                context.Observer.Message($"{Line(label, i, runs.Count, runs[i])} · ended earlier ({end.State.ToString().ToLowerInvariant()}): reused from {runs[i].Directory}");
            }
            else open.Enqueue(i);
        }
        Deliver();
        if (open.Count == 0) return results!;

        // each split is built (or loaded) once here, before the children would race to build it
        foreach (var spec in open.Select(i => runs[i].Spec).DistinctBy(s => (s.Dataset, s.Protocol, s.SplitSeed, s.SampledNegatives)))
        {
            string protocol = (spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, context)).ToLowerInvariant();
            Experiment.GetSplit(spec.Dataset, protocol, spec.SplitSeed, spec.SampledNegativesFor(protocol), context);
        }
        int threads = open.Max(i => runs[i].Spec.Train.Threads);
        context.Observer.Message($"{label}: {open.Count} run(s) to train, {Math.Min(Jobs, open.Count)} at a time, each in its own process " +
                                 $"(lrml train --spec, {threads} thread(s) each); a run's output goes to {RunDirectory.LogFile} in its directory.");
        var running = new List<Child>();
        void KillAll()
        {
            lock (running)
                foreach (var c in running)
                    try { c.Process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { /* already gone */ }
        }
        var registrations = new List<PosixSignalRegistration>();
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
        {
            try
            {
                registrations.Add(PosixSignalRegistration.Create(signal, s =>
                {
                    int n;
                    lock (running) n = running.Count;
                    KillAll();                                                     // then the default action ends this process
                    Console.Error.WriteLine($"{label}: {s.Signal}: killed {n} running child process(es); run the same command again to resume " +
                                            "(finished runs are reused, interrupted ones resume from their checkpoints).");
                }));
            }
            catch (PlatformNotSupportedException) { }
        }
        try
        {
            while (open.Count > 0 || running.Count > 0)
            {
                while (running.Count < Jobs && open.Count > 0)
                {
                    int i = open.Dequeue();
                    // started and registered under the lock: a signal arriving in between (the child already exists) waits
                    // for the registration and then counts and kills this child too, instead of missing it
                    lock (running) running.Add(Start(i, runs[i], context, folder));
                }
                int k = Task.WaitAny(running.Select(c => (Task)c.Ended).ToArray());
                var done = running[k];
                lock (running) running.RemoveAt(k);
                results[done.Index] = Collect(done, context, Line(label, done.Index, runs.Count, done.Planned));
                Deliver();
            }
        }
        finally
        {
            KillAll();                                                             // only when an exception left runs behind
            foreach (var r in registrations) r.Dispose();
        }
        return results!;
    }

    /// <summary>"main table (quick): run 3 of 18 · ml-100k · lrml · seed 2", or a sweep's own label with the seed.</summary>
    private static string Line(string label, int index, int count, PlannedRun p) =>
        p.Label is null ? LocalBackend.RunOfN(label, index, count, p) : $"{p.Label} · seed {p.Spec.Train.Seed}";

    private Child Start(int index, PlannedRun p, ExperimentContext context, string folder)
    {
        string jobs = Path.Combine(Path.GetFullPath(folder), "jobs");
        Directory.CreateDirectory(jobs);
        Directory.CreateDirectory(p.Directory);
        // named by the run directory and the spec's key: the same run always gets the same file, another run another one
        string specPath = Path.Combine(jobs, $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(p.Directory))}-{RunStore.SpecKey(p.Spec)}.json");
        new RunSpecFile(p.Spec, p.Directory, context.Overwrite, context.KeepCheckpoints).Save(specPath);
        var psi = new ProcessStartInfo(Command[0]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in Command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var a in new[] { "--data-dir", context.Data.Root, "--results", context.ResultsRoot,
                     "--threads", p.Spec.Train.Threads.ToString(CultureInfo.InvariantCulture), "train", "--spec", specPath })
            psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment[ParentVariable] = "1";
        string logPath = Path.Combine(p.Directory, RunDirectory.LogFile);
        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { AutoFlush = true };
        log.WriteLine($"lrml: {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} {string.Join(' ', psi.ArgumentList.Prepend(psi.FileName))}");
        Process process;
        try { process = Process.Start(psi) ?? throw new IOException($"Could not start {psi.FileName}."); }
        catch (Win32Exception e)
        {
            log.Dispose();
            throw new IOException($"Could not start lrml as a child process ({psi.FileName}: {e.Message}).", e);
        }
        var clock = Stopwatch.StartNew();
        async Task Pump(StreamReader reader)
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
                lock (log) log.WriteLine(line);
        }
        var pumps = new[] { Pump(process.StandardOutput), Pump(process.StandardError) };
        async Task End()
        {
            await process.WaitForExitAsync().ConfigureAwait(false);
            await Task.WhenAll(pumps).ConfigureAwait(false);
            lock (log) log.WriteLine($"lrml: {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} exit code {process.ExitCode} after {clock.Elapsed.TotalSeconds:F1} s");
            await log.DisposeAsync().ConfigureAwait(false);
        }
        return new Child(index, p, process, Task.Run(End), clock, logPath);
    }

    /// <summary>The run's end state from its directory once its child has ended, and its line on the terminal.</summary>
    private static BackendRun Collect(Child c, ExperimentContext context, string line)
    {
        double seconds = c.Clock.Elapsed.TotalSeconds;
        int code = c.Process.ExitCode;
        c.Process.Dispose();
        var end = RunEnd.Read(c.Planned, context);
        if (end is { State: RunState.Finished })
        {
            context.Observer.Message($"{line} · finished in {seconds:F1} s");
            return end with { Seconds = seconds };
        }
        if (end is { State: RunState.Diverged })
        {
            context.Observer.Message($"{line} · diverged after {seconds:F1} s: {end.Message}");
            return end with { Seconds = seconds };
        }
        string tail = File.Exists(c.LogPath)
            ? string.Join(" | ", File.ReadLines(c.LogPath).Where(l => l.Trim().Length > 0 && !l.StartsWith("lrml: ", StringComparison.Ordinal)).TakeLast(2)).Trim()
            : "";
        string why = (code > 128 && !OperatingSystem.IsWindows() ? $"killed by signal {code - 128}" : $"exit code {code}") + $" after {seconds:F1} s, no result; " +
                     $"log {c.LogPath}" + (tail.Length > 0 ? $" (ends: {(tail.Length <= 240 ? tail : tail[..240] + "…")})" : "");
        context.Observer.Message($"{line} · FAILED: {why}");
        return new BackendRun(c.Planned, RunState.Missing, Message: why, Seconds: seconds);
    }
}
