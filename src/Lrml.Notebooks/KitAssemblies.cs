using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;

namespace Lrml.Notebooks;

/// <summary>
/// Makes the kit's dependencies load from the kit's own folder (the folder of Lrml.dll) inside a notebook kernel,
/// where the host already carries some of them in older versions.
/// <para>The problem: .NET Interactive (and dotnet-repl, which embeds it) ships FSharp.Core 10.0 in the default load
/// context; Plotly.NET 6 needs FSharp.Core 10.1. A notebook that references Lrml.dll then gets Plotly.NET bound to
/// 10.1 (loaded by the script loader) but Giraffe.ViewEngine — which asks for an older FSharp.Core — bound to the
/// host's 10.0, and Plotly.NET fails with MissingMethodException on the first chart.</para>
/// <para>The fix: one private <see cref="AssemblyLoadContext"/> for the kit's dependencies. An
/// <see cref="AssemblyLoadContext.Default"/> Resolving handler sends every request the default context cannot satisfy
/// (an assembly it lacks, or has only in an older version) and that the kit folder can, to that context. Inside it,
/// every dependency (FSharp.Core included) resolves to the kit's copy unless the host already has the same or a
/// newer version, so Plotly.NET, Giraffe and FSharp.Core agree. Notebook cells resolve through the same handler, so
/// cells and the library share one copy of each type. Native libraries asked for by the kit's assemblies (TorchSharp)
/// resolve to the copies <see cref="TorchNatives"/> preloaded.</para>
/// </summary>
internal static class KitAssemblies
{
    private static readonly object Gate = new();
    private static KitLoadContext? _context;

    /// <summary>The folder holding Lrml.dll and its dependencies.</summary>
    public static string Directory => Path.GetDirectoryName(typeof(KitAssemblies).Assembly.Location) is { Length: > 0 } d
        ? d : AppContext.BaseDirectory;

    /// <summary>The private load context, or null before <see cref="Install"/>.</summary>
    public static KitLoadContext? Context => _context;

    /// <summary>Installs the resolver once per process (idempotent); returns the kit's load context.</summary>
    public static KitLoadContext Install()
    {
        lock (Gate)
        {
            if (_context is not null) return _context;
            var ctx = new KitLoadContext(Directory, typeof(KitAssemblies).Assembly);
            AssemblyLoadContext.Default.Resolving += (_, name) => ctx.ResolveForDefault(name);
            _context = ctx;
            return ctx;
        }
    }

    /// <summary>The version of an assembly file, or null when it is not a managed assembly.</summary>
    public static Version? FileVersion(string path)
    {
        try { return AssemblyName.GetAssemblyName(path).Version; }
        catch (BadImageFormatException) { return null; }
        catch (FileLoadException) { return null; }
        catch (FileNotFoundException) { return null; }
    }

    /// <summary>
    /// The highest version of <paramref name="simpleName"/> the default context already has loaded or can load from its
    /// trusted platform assemblies (the host application and the shared framework), or null when it has none.
    /// </summary>
    public static Version? HostVersion(string simpleName)
    {
        Version? best = null;
        foreach (var a in AssemblyLoadContext.Default.Assemblies)
        {
            var n = a.GetName();
            if (string.Equals(n.Name, simpleName, StringComparison.OrdinalIgnoreCase) && (best is null || n.Version > best)) best = n.Version;
        }
        if (TrustedPlatformAssemblies.Value.TryGetValue(simpleName, out string? tpa) && FileVersion(tpa) is { } v && (best is null || v > best))
            best = v;
        return best;
    }

    private static readonly Lazy<Dictionary<string, string>> TrustedPlatformAssemblies = new(() =>
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string list)
            foreach (var p in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                map.TryAdd(Path.GetFileNameWithoutExtension(p), p);
        return map;
    });
}

/// <summary>The kit's private load context (see <see cref="KitAssemblies"/>).</summary>
internal sealed class KitLoadContext : AssemblyLoadContext
{
    private readonly string _directory;
    private readonly Assembly _lrml;
    private readonly ConcurrentDictionary<string, Assembly> _loaded = new(StringComparer.OrdinalIgnoreCase);
    private readonly object _gate = new();

    public KitLoadContext(string directory, Assembly lrml) : base("Lrml kit dependencies")
    {
        _directory = directory;
        _lrml = lrml;
    }

    /// <summary>Assemblies this context loaded from the kit folder, by simple name.</summary>
    public IReadOnlyDictionary<string, Assembly> Loaded => _loaded;

    /// <summary>The kit folder's copy of an assembly, when the kit ships it.</summary>
    public string? KitPath(string simpleName)
    {
        string p = Path.Combine(_directory, simpleName + ".dll");
        return File.Exists(p) ? p : null;
    }

    /// <summary>Requests from inside the context: the kit's copy unless the host has the same or a newer version.</summary>
    protected override Assembly? Load(AssemblyName name)
    {
        if (name.Name is null) return null;
        if (KitOwn(name.Name) is { } own) return own;
        if (_loaded.TryGetValue(name.Name, out var done)) return done;
        string? path = KitPath(name.Name);
        if (path is null) return null;
        var host = KitAssemblies.HostVersion(name.Name);
        var kit = KitAssemblies.FileVersion(path);
        if (kit is null || (host is not null && host >= kit)) return null;
        return LoadKit(name.Name, path);
    }

    /// <summary>Default-context Resolving handler: only called when the default context failed (missing or too old).</summary>
    public Assembly? ResolveForDefault(AssemblyName name)
    {
        if (name.Name is null) return null;
        if (KitOwn(name.Name) is { } own) return own;
        if (_loaded.TryGetValue(name.Name, out var done)) return done;
        string? path = KitPath(name.Name);
        return path is null ? null : LoadKit(name.Name, path);
    }

    /// <summary>
    /// The kit's own assemblies (Lrml, Lrml.Reproduction, Lrml.Fast, Lrml.Notebooks) exist once, in the default context
    /// beside the notebook's cells, so cells and the library share their types: the copy already loaded, else the kit
    /// folder's loaded into the default context. Null for any other name.
    /// </summary>
    private Assembly? KitOwn(string simpleName)
    {
        if (simpleName != "Lrml" && !simpleName.StartsWith("Lrml.", StringComparison.Ordinal)) return null;
        if (simpleName == _lrml.GetName().Name) return _lrml;
        lock (_gate)
        {
            var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == simpleName);
            if (loaded is not null) return loaded;
            string? path = KitPath(simpleName);
            return path is null ? null : AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
        }
    }

    private Assembly LoadKit(string simpleName, string path)
    {
        lock (_gate)
        {
            if (_loaded.TryGetValue(simpleName, out var done)) return done;
            var asm = LoadFromAssemblyPath(path);
            _loaded[simpleName] = asm;
            return asm;
        }
    }

    /// <summary>Native libraries of kit assemblies: the preloaded TorchSharp natives, else the default probing.</summary>
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
        TorchNatives.TryGetPreloaded(unmanagedDllName, out var handle) ? handle : IntPtr.Zero;
}
