using System.Diagnostics;

namespace Lrml.Tests;

/// <summary>Runs a script with captured output for the tests of the kit's shell scripts (fetch.sh, notebooks/run.sh).</summary>
internal static class ScriptProcess
{
    /// <summary>Runs bash with <paramref name="args"/> (and extra environment), returns the exit code and stdout + stderr.</summary>
    public static (int Code, string Output) Bash(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, int timeoutMs = 120_000)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); throw new TimeoutException($"bash {string.Join(' ', psi.ArgumentList)} did not finish in {timeoutMs / 1000} s"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
