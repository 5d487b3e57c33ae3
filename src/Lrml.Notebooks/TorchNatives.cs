using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Lrml.Notebooks;

/// <summary>
/// Preloads TorchSharp's own native libraries (libtorch and the LibTorchSharp shim that ship next to the kit) by full
/// path before the first torch call. Inside a notebook kernel nothing else pins which libtorch the process gets, and
/// a system libtorch (e.g. Debian's python3-torch) makes TorchSharp fail with an undefined symbol or a crash. Loading
/// ours first by full path makes every later request by name (TorchSharp's DllImports, the dynamic loader resolving
/// dependencies by soname) bind to these copies; <see cref="KitLoadContext"/> also answers TorchSharp's requests
/// with the preloaded handles.
/// </summary>
internal static class TorchNatives
{
    private static readonly ConcurrentDictionary<string, IntPtr> Handles = new(StringComparer.Ordinal);
    private static readonly object Gate = new();
    private static IReadOnlyList<string>? _preloaded;

    /// <summary>The full paths preloaded so far (empty before <see cref="Preload"/>).</summary>
    public static IReadOnlyList<string> Preloaded => _preloaded ?? [];

    /// <summary>File names of libtorch and the TorchSharp shim on this operating system, in load order.</summary>
    public static IReadOnlyList<string> LibraryFileNames =>
        OperatingSystem.IsWindows() ? ["torch.dll", "LibTorchSharp.dll"]
        : OperatingSystem.IsMacOS() ? ["libtorch.dylib", "libLibTorchSharp.dylib"]
        : ["libtorch.so", "libLibTorchSharp.so"];

    /// <summary>The runtime identifier folder under runtimes/ (e.g. linux-x64).</summary>
    public static string RuntimeIdentifier =>
        (OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux") + "-" +
        RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    /// <summary>Where the native files are looked for, in order: runtimes/RID/native under the kit folder, then the kit folder.</summary>
    public static IReadOnlyList<string> SearchFolders(string kitDirectory) =>
        [Path.Combine(kitDirectory, "runtimes", RuntimeIdentifier, "native"), kitDirectory];

    /// <summary>
    /// Loads libtorch then the shim from the kit folder (once per process). Returns the paths loaded. Throws a
    /// <see cref="DllNotFoundException"/> that lists the folders searched when a file is missing, and the loader's
    /// message when a file does not load (e.g. a libstdc++ too old and not patched).
    /// </summary>
    public static IReadOnlyList<string> Preload(string kitDirectory)
    {
        lock (Gate)
        {
            if (_preloaded is not null) return _preloaded;
            var loaded = new List<string>();
            foreach (var file in LibraryFileNames)
            {
                string? path = SearchFolders(kitDirectory).Select(d => Path.Combine(d, file)).FirstOrDefault(File.Exists);
                if (path is null)
                    throw new DllNotFoundException(
                        $"TorchSharp native '{file}' not found in {string.Join(" or ", SearchFolders(kitDirectory))}. " +
                        "Build the kit first (dotnet build src/Lrml.Cli -c Release) and reference the Lrml.dll of that output folder.");
                IntPtr handle;
                try { handle = NativeLibrary.Load(path); }
                catch (DllNotFoundException ex) { throw new DllNotFoundException($"Could not load {path}: {ex.Message}", ex); }
                Handles[Key(file)] = handle;
                loaded.Add(path);
            }
            _preloaded = loaded;
            return loaded;
        }
    }

    /// <summary>The preloaded handle for a library name as TorchSharp asks for it ("LibTorchSharp", "libtorch.so", …).</summary>
    public static bool TryGetPreloaded(string name, out IntPtr handle)
    {
        handle = IntPtr.Zero;
        return !Handles.IsEmpty && Handles.TryGetValue(Key(name), out handle);
    }

    /// <summary>Normalised library key: no folder, no extension or version suffix, no leading lower-case "lib".</summary>
    internal static string Key(string name)
    {
        string n = Path.GetFileName(name);
        foreach (var ext in new[] { ".dll", ".dylib", ".so" })
        {
            int at = n.IndexOf(ext, StringComparison.OrdinalIgnoreCase);
            if (at > 0 && (at + ext.Length == n.Length || n[at + ext.Length] == '.')) { n = n[..at]; break; }
        }
        return n.StartsWith("lib", StringComparison.Ordinal) && n.Length > 3 ? n[3..] : n;
    }
}
