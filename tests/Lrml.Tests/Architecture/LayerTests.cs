using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ArchUnitNET.Fluent;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnitV3;
using Lrml.Data;
using static ArchUnitNET.Fluent.ArchRuleDefinition;
using ArchModel = ArchUnitNET.Domain.Architecture;

namespace Lrml.Tests.Architecture;

/// <summary>
/// The kit's architecture, stated once and checked on the built assemblies: which kit assembly may reference which
/// (project boundaries), and the layer order of the namespaces inside the paper library (a namespace depends only on
/// lower ones). A violation names the offending type and what it depends on.
/// </summary>
public sealed class LayerTests
{
    /// <summary>
    /// The namespaces of the paper library (src/Lrml), lowest first; a type may use types of its own namespace and of
    /// the namespaces before it. Sub-namespaces belong to their parent (Lrml.Models.X is Lrml.Models).
    /// <list type="bullet">
    /// <item>Util: files, RNG, threads, arrays; knows nothing of recommendation.</item>
    /// <item>Analysis: numeric analyses over plain arrays (PCA, t-SNE, kNN, silhouette, subsampling); uses only Util,
    /// and the models' probes use it (MemoryUsageProbe draws its pairs with Subsample), so it sits right above Util.</item>
    /// <item>Data: files to Interactions. Protocols: Interactions to Split, the evaluation targets and the samplers
    /// over a split's training positives (NegativeSampler, CandidateSampler).</item>
    /// <item>Models: the recommenders and their registry. Evaluation: scores a recommender on a split.</item>
    /// <item>Training: the Trainer, whose early stopping validates through the evaluator (it catches
    /// Evaluation's NonFiniteScoreException), so Training sits above Evaluation; Evaluation uses nothing of Training.</item>
    /// <item>Experiments: the run engine (spec, identity, store, result) over all of the above.</item>
    /// </list>
    /// </summary>
    public static readonly string[] Layers =
    [
        "Lrml.Util", "Lrml.Analysis", "Lrml.Data", "Lrml.Protocols", "Lrml.Models",
        "Lrml.Evaluation", "Lrml.Training", "Lrml.Experiments",
    ];

    /// <summary>Kit assembly → the kit assemblies it may reference (project boundaries). Nothing may reference Lrml.Cli.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> AllowedReferences = new Dictionary<string, string[]>
    {
        ["Lrml"] = [],
        ["Lrml.Reproduction"] = ["Lrml"],
        ["Lrml.Fast"] = ["Lrml", "Lrml.Reproduction"],
        ["Lrml.Notebooks"] = ["Lrml", "Lrml.Reproduction", "Lrml.Fast"],
        ["Lrml.Cli"] = ["Lrml", "Lrml.Reproduction", "Lrml.Fast", "Lrml.Notebooks"],
    };

    private static readonly Assembly Library = typeof(Interactions).Assembly;

    private static readonly Lazy<ArchModel> Arch = new(() => new ArchLoader().LoadAssemblies(Library).Build());

    /// <summary>The regular expression for a namespace and its sub-namespaces, or for any of several.</summary>
    internal static string NamespacePattern(params string[] namespaces) =>
        "^(" + string.Join("|", namespaces.Select(Regex.Escape)) + @")(\..+)?$";

    public static TheoryData<string> LayersBelowTheTop() => new(Layers[..^1]);

    public static TheoryData<string> KitAssemblies() => new(AllowedReferences.Keys);

    [Theory]
    [MemberData(nameof(LayersBelowTheTop))]
    public void A_layer_depends_on_no_higher_layer(string layer)
    {
        string[] higher = Layers[(Array.IndexOf(Layers, layer) + 1)..];
        IArchRule rule = Types().That().ResideInNamespaceMatching(NamespacePattern(layer))
            .Should().NotDependOnAny(Types().That().ResideInNamespaceMatching(NamespacePattern(higher)))
            .Because($"the layer order of src/Lrml is {string.Join(" → ", Layers)} (lowest first) and {layer} may use only the layers before it");
        rule.Check(Arch.Value);
    }

    [Fact]
    public void Every_library_type_lies_in_a_layer()
    {
        // A new namespace would otherwise escape the layer rules silently.
        var pattern = new Regex(NamespacePattern(Layers));
        var outside = Library.GetTypes()
            .Where(t => t.Namespace is { } ns && (ns == "Lrml" || ns.StartsWith("Lrml.", StringComparison.Ordinal)) && !pattern.IsMatch(ns))
            .Select(t => t.FullName).Order(StringComparer.Ordinal).ToList();
        Assert.True(outside.Count == 0, "Types of src/Lrml outside the layers " + string.Join(", ", Layers) + ": " + string.Join(", ", outside));
        foreach (string layer in Layers)
            Assert.Contains(Library.GetTypes(), t => t.Namespace is { } ns && Regex.IsMatch(ns, NamespacePattern(layer)));
    }

    [Theory]
    [MemberData(nameof(KitAssemblies))]
    public void A_kit_assembly_references_only_the_kit_assemblies_it_may(string assembly)
    {
        var built = Assembly.Load(assembly);
        var forbidden = built.GetReferencedAssemblies().Select(a => a.Name!)
            .Where(n => AllowedReferences.ContainsKey(n) && !AllowedReferences[assembly].Contains(n))
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(forbidden.Count == 0, ForbiddenMessage(assembly, "references", forbidden));
    }

    [Theory]
    [MemberData(nameof(KitAssemblies))]
    public void A_kit_project_declares_only_the_project_references_it_may(string assembly)
    {
        // The compiler drops an unused reference from the built assembly; the project file must not declare it either.
        string repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        string project = Path.Combine(repo, "src", assembly, assembly + ".csproj");
        var declared = XDocument.Load(project).Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension((string)e.Attribute("Include")!.Value.Replace('\\', '/')))
            .ToList();
        Assert.All(declared, d => Assert.True(AllowedReferences.ContainsKey(d), $"{project} references {d}, which is not a kit library"));
        var forbidden = declared.Where(d => !AllowedReferences[assembly].Contains(d)).Order(StringComparer.Ordinal).ToList();
        Assert.True(forbidden.Count == 0, ForbiddenMessage(assembly, "declares a ProjectReference to", forbidden));
    }

    private static string ForbiddenMessage(string assembly, string verb, List<string> forbidden) =>
        $"{assembly} {verb} {string.Join(", ", forbidden)}, which the project boundaries forbid " +
        $"(it may reference only: {(AllowedReferences[assembly].Length == 0 ? "no kit assembly" : string.Join(", ", AllowedReferences[assembly]))}).";
}
