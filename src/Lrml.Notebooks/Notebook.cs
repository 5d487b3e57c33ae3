using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction.Plots;
using Lrml.Training;

namespace Lrml.Notebooks;

/// <summary>
/// The one call a notebook makes after referencing the library:
/// <code>
/// #r "../src/Lrml.Cli/bin/Release/net10.0/Lrml.Notebooks.dll"
/// Lrml.Notebooks.Notebook.Setup(profile, dataDir)
/// </code>
/// and later cells read the result from <see cref="Current"/> (e.g. <c>var env = Notebook.Current!;</c>).
/// <see cref="Setup"/> makes the kernel load the kit's own dependencies (FSharp.Core 10.1 for Plotly.NET, although the
/// kernel ships 10.0), preloads TorchSharp's own libtorch before any torch call, lets later cells use Plotly.NET,
/// DataFrame and TorchSharp types directly, registers the kit's HTML formatters (result types, charts, DataFrames),
/// sets the compute threads, finds the data, and returns an environment summary whose display also inlines plotly.js
/// once, so charts render offline (VS Code, Jupyter, nbconvert HTML). It works the same in dotnet-repl (headless runs)
/// and in the VS Code / Jupyter .NET Interactive kernel, and is harmless elsewhere (CLI, tests).
/// <para>Why the result is not kept in a variable of the setup cell: the <c>#r</c> lines for the dependencies run
/// just before the next cell, and after a <c>#r</c> .NET Interactive compiles later cells against a fresh reference
/// to the kit assemblies, so a kit-typed variable declared before it no longer converts to the kit's parameter types
/// (error CS1503 "cannot convert from 'Lrml.Data.DataDirectory' to 'Lrml.Data.DataDirectory'"). Variables declared
/// from the next cell on are fine, and so are repeated setup calls (the #r lines are queued once per kernel).</para>
/// </summary>
public static class Notebook
{
    /// <summary>Environment variable with the run profile the notebook runner passes (quick or full).</summary>
    public const string ProfileVariable = "LRML_PROFILE";

    /// <summary>Environment variable that overrides the compute-thread count.</summary>
    public const string ThreadsVariable = "LRML_THREADS";

    /// <summary>The profiles every notebook accepts: quick (minutes, CI) and full (the paper's settings).</summary>
    public static IReadOnlyList<string> Profiles { get; } = ["quick", "full"];

    private static int _plotlyInlined;
    private static int _referencesQueued;

    /// <summary>The summary of the last <see cref="Setup"/>, or null before it.</summary>
    public static NotebookEnvironment? Current { get; private set; }

    /// <summary>
    /// The profile from <see cref="ProfileVariable"/> (default <paramref name="fallback"/>), validated: a notebook's
    /// parameters cell calls this so a typo fails at once instead of silently running the wrong settings.
    /// </summary>
    public static string ProfileFromEnvironment(string fallback = "quick") =>
        CheckProfile(Environment.GetEnvironmentVariable(ProfileVariable) is { Length: > 0 } p ? p.Trim().ToLowerInvariant() : fallback);

    /// <summary>Returns <paramref name="profile"/> when it is one of <see cref="Profiles"/>, else throws naming them.</summary>
    public static string CheckProfile(string profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (!Profiles.Contains(profile))
            throw new ArgumentException($"Unknown profile '{profile}'. Use one of: {string.Join(", ", Profiles)} (environment variable {ProfileVariable}).", nameof(profile));
        return Lrml.Reproduction.Profile.Get(profile).Name;
    }

    /// <summary>
    /// Prepares the notebook (see the class summary) and returns what was found. Call it once, in the first code cell
    /// after <c>#r</c>; calling it again is harmless (the resolver, natives and formatters are installed once).
    /// </summary>
    /// <param name="profile">Run profile shown in the summary: "quick" or "full".</param>
    /// <param name="dataDirectory">Data root; null resolves <c>LRML_DATA_DIR</c>, then the repository's data folder
    /// (see <see cref="DataDirectory.Resolve(string?, bool)"/>).</param>
    /// <param name="threads">Compute threads for TorchSharp and the kit; null reads <see cref="ThreadsVariable"/>,
    /// else keeps <see cref="ComputeThreads.Current"/>.</param>
    /// <param name="loadTorch">Preload and initialise TorchSharp (false for notebooks that never train).</param>
    public static NotebookEnvironment Setup(string profile = "quick", string? dataDirectory = null, int? threads = null, bool loadTorch = true)
    {
        // 1. Assembly resolution first: nothing before it may touch the other kit assemblies (Lrml, Lrml.Reproduction,
        //    Lrml.Fast), Plotly.NET or FSharp.Core — so the rest is a separate method, compiled after the resolver is in.
        KitAssemblies.Install();
        return SetupAfterResolver(profile, dataDirectory, threads, loadTorch);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static NotebookEnvironment SetupAfterResolver(string profile, string? dataDirectory, int? threads, bool loadTorch)
    {
        var clock = Stopwatch.StartNew();
        CheckProfile(profile);
        Lrml.Fast.FastEngines.Register();   // LRML's fused CPU engine, the default on a CPU
        var warnings = new List<string>();
        string kit = KitAssemblies.Directory;

        // 2. TorchSharp's own natives by full path, before the first torch call.
        IReadOnlyList<string> natives = loadTorch ? TorchNatives.Preload(kit) : [];

        // 3. Kernel integration: #r lines for the kit's dependencies (run by the kernel before the next cell, once per
        //    kernel), and formatters.
        bool inKernel = KernelBridge.InKernel;
        string references = "not a notebook kernel";
        if (inKernel)
        {
            if (Interlocked.Exchange(ref _referencesQueued, 1) == 1) references = "already added by an earlier setup";
            else if (!KernelBridge.SubmitBeforeNextCell(string.Concat(CompileReferences(kit).Select(p => $"#r \"{p}\"\n")), out string message))
            {
                _referencesQueued = 0;
                references = message;
                warnings.Add($"Later cells cannot name Plotly.NET / DataFrame / TorchSharp types directly ({message}); add #r lines for them.");
            }
            else references = $"#r {string.Join(", ", CompileReferences(kit).Select(Path.GetFileName))} ({message}, before the next cell)";
            warnings.AddRange(KitFormatters.RegisterWithKernel().Select(f => "formatter not registered: " + f));
            warnings.AddRange(RegisterDependencyFormatters());
        }

        // 4. Threads (initialises TorchSharp when it is used, which proves the natives load).
        int t = threads ?? ThreadsFromEnvironment() ?? ComputeThreads.Current;
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(threads), t, "threads must be ≥ 1.");
        string torchVersion = loadTorch ? InitialiseTorch(t) : "not loaded (loadTorch: false)";

        // 5. Data.
        var data = DataDirectory.Resolve(dataDirectory);
        var present = Datasets.Available(data);

        var rows = new List<KeyValuePair<string, string>>
        {
            new("profile", profile),
            new("kit", $"Lrml {typeof(Notebook).Assembly.GetName().Version} · commit {Provenance.Commit}"),
            new("kit folder", kit),
            new(".NET", $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})"),
            new("CPU", $"{Provenance.CpuModel} · {Environment.ProcessorCount} logical cores"),
            new("kernel", KernelBridge.HostDescription()),
            new("threads", $"{t} compute threads (TorchSharp and the kit)"),
            new("TorchSharp", loadTorch ? $"{AssemblyVersion("TorchSharp")} · libtorch {torchVersion} · {string.Join(", ", natives.Select(Path.GetFileName))} preloaded from {Path.GetDirectoryName(natives.FirstOrDefault() ?? kit)}" : torchVersion),
            new("Plotly.NET", PlotlyDescription()),
            new("FSharp.Core", FSharpCoreDescription()),
            new("Microsoft.Data.Analysis", AssemblyVersion("Microsoft.Data.Analysis")),
            new("data root", $"{data.Root} (from {data.Source})" + (data.SearchRoots.Count > 1 ? $"; also searched {string.Join(", ", data.SearchRoots.Skip(1))}" : "")),
            new("datasets found", present.Count == 0 ? "none" : string.Join(", ", present.Select(d => d.Name == "synthetic" ? "synthetic (embedded)" : $"{d.Name} ({d.Folder})"))),
            new("cell references", references),
        };
        clock.Stop();
        rows.Add(new("setup time", $"{clock.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s"));
        var env = new NotebookEnvironment(profile, data, present, t, rows, warnings);
        Current = env;
        return env;
    }

    /// <summary>
    /// The plotly.js script element the first time it is asked for in this process (empty afterwards): the setup
    /// summary's display and, when that was not displayed, the first chart carry it, so a notebook inlines the 3.6 MB
    /// bundle once.
    /// </summary>
    public static string PlotlyScriptOnce() =>
        Interlocked.Exchange(ref _plotlyInlined, 1) == 0 ? PlotlyHtml.ScriptElement() : "";

    /// <summary>Assemblies later cells compile against, from the kit folder.</summary>
    internal static IReadOnlyList<string> CompileReferences(string kit) =>
        new[] { "Lrml", "Lrml.Reproduction", "Lrml.Fast", "Plotly.NET", "Plotly.NET.CSharp", "DynamicObj", "FSharp.Core", "Microsoft.Data.Analysis", "TorchSharp" }
            .Select(n => Path.Combine(kit, n + ".dll")).Where(File.Exists).ToArray();

    private static int? ThreadsFromEnvironment()
    {
        string? v = Environment.GetEnvironmentVariable(ThreadsVariable);
        if (string.IsNullOrWhiteSpace(v)) return null;
        if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
            throw new ArgumentException($"{ThreadsVariable}='{v}' is not a positive integer.");
        return n;
    }

    // The members below touch TorchSharp, Plotly.NET or Microsoft.Data.Analysis: they are separate, non-inlined
    // methods so that the JIT loads those assemblies only after the resolver is installed.

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string InitialiseTorch(int threads)
    {
        ComputeThreads.Set(threads);
        return TorchSharp.torch.__version__;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IEnumerable<string> RegisterDependencyFormatters()
    {
        var failures = new List<string>();
        if (!KernelBridge.RegisterHtmlFormatter(typeof(Plotly.NET.GenericChart),
                o => PlotlyScriptOnce() + PlotlyHtml.Fragment((Plotly.NET.GenericChart)o), out string m1))
            failures.Add("GenericChart formatter not registered: " + m1);
        if (!KernelBridge.RegisterHtmlFormatter(typeof(Microsoft.Data.Analysis.DataFrame),
                o => DataFrames.ToHtml((Microsoft.Data.Analysis.DataFrame)o), out string m2))
            failures.Add("DataFrame formatter not registered: " + m2);
        return failures;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string PlotlyDescription() =>
        $"{AssemblyVersion("Plotly.NET")} · plotly.js {PlotlyHtml.PlotlyJsVersion} inlined from Plotly.NET.dll (no CDN)";

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string FSharpCoreDescription()
    {
        var used = typeof(Microsoft.FSharp.Core.FSharpOption<int>).Assembly;
        var host = KitAssemblies.HostVersion("FSharp.Core");
        string where = KitAssemblies.Context?.Loaded.ContainsKey("FSharp.Core") == true ? "kit copy" : "host copy";
        return $"{used.GetName().Version} ({where})" + (host is not null && host != used.GetName().Version ? $"; the kernel's own is {host}" : "");
    }

    private static string AssemblyVersion(string simpleName)
    {
        var asm = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == simpleName);
        if (asm is null) return "not loaded";
        return asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
               ?? asm.GetName().Version?.ToString() ?? "?";
    }
}

/// <summary>
/// What <see cref="Notebook.Setup"/> found: the environment summary a notebook shows first. Its HTML display also
/// carries plotly.js the first time (see <see cref="Notebook.PlotlyScriptOnce"/>).
/// </summary>
[TypeFormatterSource(typeof(KitFormatterSource))]
public sealed class NotebookEnvironment
{
    internal NotebookEnvironment(string profile, DataDirectory data, IReadOnlyList<DatasetLocation> datasets, int threads,
        IReadOnlyList<KeyValuePair<string, string>> rows, IReadOnlyList<string> warnings)
    {
        Profile = profile; DataDirectory = data; Datasets = datasets; Threads = threads; Rows = rows; Warnings = warnings;
    }

    /// <summary>The run profile (quick or full).</summary>
    public string Profile { get; }

    /// <summary>Where data is looked for.</summary>
    public DataDirectory DataDirectory { get; }

    /// <summary>Datasets present under <see cref="DataDirectory"/> (synthetic is always present).</summary>
    public IReadOnlyList<DatasetLocation> Datasets { get; }

    /// <summary>Compute threads set.</summary>
    public int Threads { get; }

    /// <summary>The summary rows (what, value).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Rows { get; }

    /// <summary>Problems found that did not stop the setup.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>Whether a dataset is present.</summary>
    public bool Has(string dataset) => Datasets.Any(d => string.Equals(d.Name, dataset, StringComparison.OrdinalIgnoreCase));

    /// <summary>The summary as an HTML table (with the warnings), plus plotly.js the first time.</summary>
    public string ToHtml()
    {
        var sb = new StringBuilder();
        sb.Append(HtmlTable.KeyValue(Rows, "Environment", "what", "value").ToHtml());
        foreach (var w in Warnings) sb.Append("<div style=\"color:#b00020\">⚠ ").Append(HtmlTable.Encode(w)).Append("</div>");
        sb.Append(Notebook.PlotlyScriptOnce());
        return sb.ToString();
    }

    /// <summary>The summary as text.</summary>
    public override string ToString() =>
        HtmlTable.KeyValue(Rows, "Environment", "what", "value").ToString() + string.Concat(Warnings.Select(w => "warning: " + w + "\n"));
}
