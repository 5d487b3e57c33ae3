using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;

namespace Lrml.NotebookTool;

/// <summary>
/// Commands of the notebook pipeline (see notebooks/run.sh):
///   finish SOURCE.ipynb EXECUTED.ipynb OUT.ipynb   restore VS Code metadata, drop progress outputs, name failing cells
///   check-committed FILE.ipynb...                  committed notebooks carry no outputs and the Polyglot metadata
///   check-html FILE.html SCREENSHOT.png|- [NB]     charts present, drawn in Chromium, screenshot not blank; with the
///                                                  source notebook NB, at least the charts it declares (metadata.lrml.charts)
/// Exit codes: 0 fine, 1 a check failed, 2 usage or I/O error, 3 a notebook cell failed.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // Lrml.dll sits next to this tool; anything else it needs comes from the kit folder it was built against.
        string kit = Environment.GetEnvironmentVariable("LRML_KIT_DIR") ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "src", "Lrml.Cli", "bin", "Release", "net10.0");
        AssemblyLoadContext.Default.Resolving += (ctx, name) =>
        {
            string p = Path.Combine(kit, name.Name + ".dll");
            return File.Exists(p) ? ctx.LoadFromAssemblyPath(p) : null;
        };
        try { return Run(args); }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or TimeoutException)
        {
            Console.Error.WriteLine($"lrml-notebook-tool: {ex.Message}");
            return 2;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Run(string[] args) => args switch
    {
        ["finish", var source, var executed, var output] => Commands.Finish(source, executed, output),
        ["check-committed", .. var files] when files.Length > 0 => Commands.CheckCommitted(files),
        ["check-html", var html, var png] => Commands.CheckHtml(html, png == "-" ? null : png),
        ["check-html", var html, var png, var notebook] => Commands.CheckHtml(html, png == "-" ? null : png, notebook),
        _ => Usage(),
    };

    private static int Usage()
    {
        Console.Error.WriteLine("usage: lrml-notebook-tool finish SOURCE.ipynb EXECUTED.ipynb OUT.ipynb | check-committed FILE.ipynb... | check-html FILE.html SCREENSHOT.png|- [SOURCE.ipynb]");
        return 2;
    }
}
