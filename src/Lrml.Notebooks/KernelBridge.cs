using System.Reflection;

namespace Lrml.Notebooks;

/// <summary>
/// The few calls into a running .NET Interactive kernel the kit needs, made by reflection so that the library never
/// references the deprecated Microsoft.DotNet.Interactive packages. Every call is a no-op (returning false and a
/// reason) outside a kernel, e.g. in the CLI or in tests.
/// <list type="bullet">
/// <item><see cref="SubmitBeforeNextCell"/>: Kernel.DeferCommand(SubmitCode), so that <c>#r</c> lines for the kit's
/// dependencies (Plotly.NET, Microsoft.Data.Analysis, TorchSharp) run before the next cell and cells compile against
/// them after a single <c>#r</c> of Lrml.dll.</item>
/// <item><see cref="RegisterHtmlFormatter"/>: Formatter.Register(Type, Action&lt;object, TextWriter&gt;, "text/html"),
/// for types the kit cannot decorate (Plotly.NET's GenericChart, DataFrame) and for the kit's own result types.</item>
/// </list>
/// </summary>
internal static class KernelBridge
{
    private const string InteractiveAssembly = "Microsoft.DotNet.Interactive";
    private const string FormattingAssembly = "Microsoft.DotNet.Interactive.Formatting";

    /// <summary>The loaded assembly with this simple name, or null (never loads anything).</summary>
    private static Assembly? Loaded(string simpleName) =>
        AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => string.Equals(a.GetName().Name, simpleName, StringComparison.Ordinal));

    /// <summary>Whether the process is a .NET Interactive kernel (dotnet-repl, the VS Code / Jupyter kernel).</summary>
    public static bool InKernel => Loaded(InteractiveAssembly) is not null;

    /// <summary>Name and version of the kernel host, e.g. "dotnet-repl 0.3.259 (.NET Interactive 1.0.0-beta.26120.1)".</summary>
    public static string HostDescription()
    {
        var interactive = Loaded(InteractiveAssembly);
        if (interactive is null) return "not a notebook kernel";
        string Version(Assembly a) =>
            a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? a.GetName().Version?.ToString() ?? "?";
        var entry = Assembly.GetEntryAssembly();
        string host = entry is null ? "kernel" : $"{entry.GetName().Name} {Version(entry)}";
        return $"{host} (.NET Interactive {Version(interactive)})";
    }

    /// <summary>
    /// Queues C# code (e.g. <c>#r</c> directives) that the kernel running the current cell executes before the next
    /// submission, exactly as if the user had typed it (Kernel.DeferCommand with a SubmitCode command). Used instead
    /// of CSharpKernel.AddAssemblyReferences, which makes the compiler see the #r'd Lrml.dll twice.
    /// </summary>
    public static bool SubmitBeforeNextCell(string code, out string message)
    {
        var interactive = Loaded(InteractiveAssembly);
        if (interactive is null) { message = "not a notebook kernel"; return false; }
        try
        {
            var contextType = interactive.GetType("Microsoft.DotNet.Interactive.KernelInvocationContext");
            var context = contextType?.GetProperty("Current", BindingFlags.Public | BindingFlags.Static)?.GetValue(null);
            var kernel = context?.GetType().GetProperty("HandlingKernel")?.GetValue(context);
            if (kernel is null) { message = "no kernel is handling a submission"; return false; }
            var submitType = interactive.GetType("Microsoft.DotNet.Interactive.Commands.SubmitCode");
            var ctor = submitType?.GetConstructor([typeof(string), typeof(string)]);
            var defer = kernel.GetType().GetMethod("DeferCommand", BindingFlags.Public | BindingFlags.Instance);
            if (ctor is null || defer is null) { message = "SubmitCode(string, string) or Kernel.DeferCommand not found"; return false; }
            string? name = kernel.GetType().GetProperty("Name")?.GetValue(kernel) as string;
            defer.Invoke(kernel, [ctor.Invoke([code, name])]);
            message = $"queued for the {name ?? kernel.GetType().Name} kernel";
            return true;
        }
        catch (TargetInvocationException ex)
        {
            message = $"DeferCommand failed: {ex.InnerException?.Message ?? ex.Message}";
            return false;
        }
    }

    /// <summary>Registers an HTML formatter for <paramref name="type"/> (and its subtypes) with the kernel's Formatter.</summary>
    public static bool RegisterHtmlFormatter(Type type, Func<object, string> html, out string message)
    {
        var formatting = Loaded(FormattingAssembly);
        if (formatting is null) { message = "not a notebook kernel"; return false; }
        var formatter = formatting.GetType("Microsoft.DotNet.Interactive.Formatting.Formatter");
        var register = formatter?.GetMethod("Register", BindingFlags.Public | BindingFlags.Static,
            [typeof(Type), typeof(Action<object, TextWriter>), typeof(string)]);
        if (register is null) { message = "Formatter.Register(Type, Action<object, TextWriter>, string) not found"; return false; }
        Action<object, TextWriter> write = (value, writer) => writer.Write(html(value));
        try
        {
            register.Invoke(null, [type, write, "text/html"]);
            message = "registered";
            return true;
        }
        catch (TargetInvocationException ex)
        {
            message = $"Formatter.Register failed: {ex.InnerException?.Message ?? ex.Message}";
            return false;
        }
    }
}
