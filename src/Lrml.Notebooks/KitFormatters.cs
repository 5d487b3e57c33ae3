using Lrml.Data;
using Lrml.Evaluation;
using Lrml.Experiments;
using Lrml.Reproduction.Plots;
using Lrml.Reproduction;
using Lrml.Protocols;

namespace Lrml.Notebooks;

/// <summary>
/// How the kit's result types render in notebooks, in one registry: adding a type is one line in the static
/// constructor below (or a call to <see cref="Add{T}"/> from anywhere). The registry reaches .NET Interactive in two
/// ways, neither of which references .NET Interactive:
/// <list type="number">
/// <item><see cref="Notebook.Setup"/> registers every entry with the kernel's formatter (user formatters win over
/// the kernel's defaults); entries added later are registered as they are added.</item>
/// <item>Kit types that carry <c>[TypeFormatterSource(typeof(KitFormatterSource))]</c> are formatted even without
/// the setup call: .NET Interactive recognises the attribute by name and asks <see cref="KitFormatterSource"/>.</item>
/// </list>
/// The most specific registered type wins (a formatter for <c>IEnumerable&lt;RunResult&gt;</c> applies to lists and
/// arrays of results).
/// </summary>
public static class KitFormatters
{
    private static readonly object Gate = new();
    private static readonly List<(Type Type, Func<object, string> Html)> Entries = new();
    private static bool _registeredWithKernel;

    static KitFormatters()
    {
        // One line per type.
        Add<HtmlTable>(t => t.ToHtml());
        Add<NotebookEnvironment>(e => e.ToHtml());
        Add<ProtocolIllustration>(p => p.ToHtml());
        Add<RunResult>(KitHtml.RunResult);
        Add<IEnumerable<RunResult>>(KitHtml.RunResults);
        Add<EvaluationResult>(KitHtml.Evaluation);
        Add<DatasetCard>(KitHtml.DatasetCard);
        Add<IEnumerable<DatasetCard>>(KitHtml.DatasetCards);
        Add<Split>(KitHtml.Split);
        Add<ResultTable>(KitHtml.ResultTable);
        Add<RunOutcome>(KitHtml.RunOutcome);
        Add<StoredRun>(KitHtml.StoredRun);
        Add<MainTableReport>(KitHtml.MainTableReport);
        Add<AblationResult>(ReproductionHtml.Ablation);
        Add<AblationReport>(ReproductionHtml.Ablations);
        Add<DynamicsReport>(ReproductionHtml.Dynamics);
        Add<Findings>(ReproductionHtml.Findings);
        Add<DurationEstimate>(ReproductionHtml.Estimate);
        Add<NamedChart>(ReproductionHtml.Chart);
        Add<IEnumerable<NamedChart>>(ReproductionHtml.Charts);
    }

    /// <summary>Registers (or replaces) the HTML rendering of <typeparamref name="T"/>; registered with the kernel at once
    /// when the notebook setup already ran.</summary>
    public static void Add<T>(Func<T, string> html) where T : notnull
    {
        ArgumentNullException.ThrowIfNull(html);
        Func<object, string> untyped = o => html((T)o);
        bool register;
        lock (Gate)
        {
            Entries.RemoveAll(e => e.Type == typeof(T));
            Entries.Add((typeof(T), untyped));
            register = _registeredWithKernel;
        }
        if (register) KernelBridge.RegisterHtmlFormatter(typeof(T), untyped, out _);
    }

    /// <summary>The registered types, in registration order.</summary>
    public static IReadOnlyList<Type> Types
    {
        get { lock (Gate) return Entries.Select(e => e.Type).ToArray(); }
    }

    /// <summary>The HTML of a value whose type (or a base type / interface) is registered; false otherwise.</summary>
    public static bool TryFormat(object value, out string html)
    {
        ArgumentNullException.ThrowIfNull(value);
        Func<object, string>? best = null; Type? bestType = null;
        lock (Gate)
        {
            foreach (var (type, render) in Entries)
            {
                if (!type.IsInstanceOfType(value)) continue;
                if (bestType is null || bestType.IsAssignableFrom(type)) { best = render; bestType = type; }
            }
        }
        html = best?.Invoke(value) ?? "";
        return best is not null;
    }

    /// <summary>Registers every entry with the running kernel's formatter (idempotent); returns the failures.</summary>
    internal static IReadOnlyList<string> RegisterWithKernel()
    {
        (Type Type, Func<object, string> Html)[] entries;
        lock (Gate) { entries = Entries.ToArray(); _registeredWithKernel = true; }
        var failures = new List<string>();
        foreach (var (type, html) in entries)
            if (!KernelBridge.RegisterHtmlFormatter(type, html, out string message)) failures.Add($"{type.Name}: {message}");
        return failures;
    }

    /// <summary>Snapshot of the entries (for <see cref="KitFormatterSource"/>).</summary>
    internal static IReadOnlyList<(Type Type, Func<object, string> Html)> Snapshot()
    {
        lock (Gate) return Entries.ToArray();
    }
}

/// <summary>
/// Marks a type whose notebook formatters come from <see cref="FormatterSourceType"/>. .NET Interactive looks for an
/// attribute with exactly this name (the convention TorchSharp uses), so the kit needs no reference to it.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = true, AllowMultiple = false)]
internal sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    /// <summary>The formatter source to instantiate.</summary>
    public Type FormatterSourceType { get; } = formatterSourceType;

    /// <summary>MIME types preferred for the decorated type.</summary>
    public string[] PreferredMimeTypes { get; set; } = ["text/html"];
}

/// <summary>Convention-based formatter source: one HTML formatter per <see cref="KitFormatters"/> entry.</summary>
internal sealed class KitFormatterSource
{
    /// <summary>Called by .NET Interactive (by name) the first time it formats a decorated type.</summary>
    public IEnumerable<object> CreateTypeFormatters() =>
        KitFormatters.Snapshot().Select(e => (object)new KitHtmlFormatter(e.Type, e.Html)).ToArray();
}

/// <summary>Convention-based formatter: .NET Interactive reads <see cref="MimeType"/> and <see cref="Type"/> and calls
/// <see cref="Format"/> by name.</summary>
internal sealed class KitHtmlFormatter(Type type, Func<object, string> html)
{
    /// <summary>The type formatted (and its subtypes).</summary>
    public Type Type { get; } = type;

    /// <summary>Always text/html.</summary>
    public string MimeType => "text/html";

    /// <summary>Writes the HTML of <paramref name="instance"/>; false when it is not of <see cref="Type"/>.</summary>
    public bool Format(object instance, TextWriter writer)
    {
        if (instance is null || !Type.IsInstanceOfType(instance)) return false;
        writer.Write(html(instance));
        return true;
    }
}
