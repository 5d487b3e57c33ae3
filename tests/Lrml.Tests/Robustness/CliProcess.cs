using System.Diagnostics;
using System.Text;

namespace Lrml.Tests.Robustness;

/// <summary>A running `lrml` process (the CLI built next to the tests) whose output is collected while it runs, so tests can
/// start several at once, wait for a file to appear, and kill one with SIGKILL.</summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _stdout = new(), _stderr = new();
    private readonly Task _out, _err;

    private CliProcess(Process p)
    {
        _p = p;
        _out = Pump(p.StandardOutput, _stdout);
        _err = Pump(p.StandardError, _stderr);
    }

    private static async Task Pump(StreamReader reader, StringBuilder into)
    {
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
            lock (into) into.Append(line).Append('\n');
    }

    /// <summary>Starts `lrml --data-dir &lt;none&gt; --results <paramref name="results"/> --threads 1 <paramref name="args"/>`.</summary>
    public static CliProcess Start(string results, params string[] args) =>
        StartRaw(["--data-dir", Path.Combine(results, "no-data"), "--results", results, "--threads", "1", .. args]);

    /// <summary>Starts `lrml <paramref name="args"/>` with exactly these arguments.</summary>
    public static CliProcess StartRaw(params string[] args)
    {
        Assert.True(File.Exists(CliRunner.Cli), $"CLI not found next to the tests: {CliRunner.Cli}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { CliRunner.Cli }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        return new CliProcess(Process.Start(psi)!);
    }

    public int Id => _p.Id;
    public bool HasExited => _p.HasExited;

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public string Output => Stdout + Stderr;

    /// <summary>Waits for the process to end (3 minutes at most) and returns its exit code.</summary>
    public int Wait()
    {
        if (!_p.WaitForExit(180_000)) { _p.Kill(true); throw new TimeoutException("lrml did not finish in 3 minutes"); }
        _p.WaitForExit();
        Task.WaitAll(_out, _err);
        return _p.ExitCode;
    }

    /// <summary>Polls <paramref name="condition"/> every 2 ms until it holds; false if the process ended first or after
    /// <paramref name="seconds"/>.</summary>
    public bool WaitUntil(Func<bool> condition, double seconds = 120)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            if (condition()) return true;
            if (_p.HasExited) return condition();
            Thread.Sleep(2);
        }
        return false;
    }

    /// <summary>SIGKILL (no cleanup of any kind can run), then waits for the process to be gone.</summary>
    public void KillHard()
    {
        try { _p.Kill(); } catch (InvalidOperationException) { }             // the CLI starts no child processes
        _p.WaitForExit();
    }

    public void Dispose()
    {
        if (!_p.HasExited) KillHard();
        _p.Dispose();
    }
}
