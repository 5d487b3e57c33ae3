using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Lrml.Reproduction.Plots;

/// <summary>
/// Headless Chromium for rendering HTML offline: PNG screenshots of charts and notebooks, and the DOM after the
/// page's scripts ran (to check that every chart was drawn). Chosen over Plotly.NET.ImageExport because it needs no
/// extra packages, never tries to download a browser, and renders the very HTML files the kit writes.
/// <para>The browser is <c>$LRML_CHROMIUM</c> when set, else the first of chromium, chromium-browser,
/// google-chrome(-stable) found on the PATH or in /usr/bin. Every call uses a fresh temporary profile, no network
/// services, and a virtual-time budget so scripts finish before the capture.</para>
/// </summary>
internal static class Chromium
{
    /// <summary>Environment variable naming the browser executable explicitly.</summary>
    public const string EnvironmentVariable = "LRML_CHROMIUM";

    /// <summary>Message used when no browser is installed.</summary>
    public const string NotFoundMessage =
        "no headless Chromium found (set LRML_CHROMIUM, or install it: apt-get install -y chromium fonts-liberation)";

    private static readonly string[] Names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

    /// <summary>The browser executable, or null when none is installed.</summary>
    public static string? Find()
    {
        string? explicitPath = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(explicitPath)) return File.Exists(explicitPath) ? explicitPath : null;
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin");
        foreach (var dir in dirs)
            foreach (var name in Names)
            {
                string p = Path.Combine(dir, name);
                if (File.Exists(p)) return p;
            }
        return null;
    }

    /// <summary>
    /// Screenshots <paramref name="htmlPath"/> into <paramref name="pngPath"/> with a window of
    /// <paramref name="width"/> × <paramref name="height"/> pixels (the capture is the window, not the whole page).
    /// Throws with Chromium's error output when it fails or exceeds <paramref name="timeout"/>.
    /// </summary>
    public static void Screenshot(string browser, string htmlPath, string pngPath, int width, int height, TimeSpan timeout, int virtualTimeMs = 5000)
    {
        if (File.Exists(pngPath)) File.Delete(pngPath);
        string ci(int v) => v.ToString(CultureInfo.InvariantCulture);
        Run(browser, [$"--window-size={ci(width)},{ci(height)}", "--hide-scrollbars", $"--virtual-time-budget={ci(virtualTimeMs)}",
            $"--screenshot={Path.GetFullPath(pngPath)}", FileUrl(htmlPath)], timeout, out _);
        if (!File.Exists(pngPath)) throw new InvalidOperationException($"Chromium wrote no screenshot of {htmlPath}.");
    }

    /// <summary>The page's DOM serialised after its scripts ran (up to <paramref name="virtualTimeMs"/> of virtual time).</summary>
    public static string DumpDom(string browser, string htmlPath, TimeSpan timeout, int virtualTimeMs = 5000, int? windowWidth = null)
    {
        var args = new List<string> { $"--virtual-time-budget={virtualTimeMs.ToString(CultureInfo.InvariantCulture)}", "--dump-dom", FileUrl(htmlPath) };
        if (windowWidth is int w) args.Insert(0, $"--window-size={w.ToString(CultureInfo.InvariantCulture)},800");
        Run(browser, args, timeout, out string stdout);
        return stdout;
    }

    /// <summary>The file:// URL of a local path.</summary>
    public static string FileUrl(string path) => new Uri(Path.GetFullPath(path)).AbsoluteUri;

    private static void Run(string browser, IEnumerable<string> args, TimeSpan timeout, out string stdout)
    {
        string profile = Directory.CreateTempSubdirectory("lrml-chromium").FullName;
        var psi = new ProcessStartInfo(browser)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--mute-audio",
                     $"--user-data-dir={profile}",
                 })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var output = new StringBuilder(); var errors = new StringBuilder();
        try
        {
            using var p = new Process { StartInfo = psi };
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Append(e.Data).Append('\n'); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.Append(e.Data).Append('\n'); };
            try { p.Start(); }
            catch (System.ComponentModel.Win32Exception ex) { throw new InvalidOperationException($"Cannot start {browser}: {ex.Message}", ex); }
            p.BeginOutputReadLine(); p.BeginErrorReadLine();
            if (!p.WaitForExit((int)timeout.TotalMilliseconds))
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw new TimeoutException($"{browser} did not finish within {timeout.TotalSeconds:0} s.");
            }
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"{browser} exited with code {p.ExitCode}: {Tail(errors.ToString())}");
            lock (output) stdout = output.ToString();
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Tail(string s)
    {
        // Chromium logs dbus noise on machines without a session bus: keep the lines that are not about it.
        var lines = s.Split('\n').Where(l => l.Length > 0 && !l.Contains("dbus", StringComparison.Ordinal)).ToArray();
        return string.Join("\n", lines.TakeLast(10));
    }
}
