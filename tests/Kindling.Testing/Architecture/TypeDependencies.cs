using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Kindling.Testing.Architecture;

/// <summary>
/// Every type each top-level type of an assembly refers to, read from the assembly file's metadata and IL with
/// <see cref="MetadataReader"/>: base type, interfaces, generic constraints, field/property/event/method signatures,
/// custom attributes, local variables, and every token a method body uses (<c>newobj</c>, <c>call</c>, <c>ldfld</c>,
/// <c>ldtoken</c>, <c>castclass</c>, ...). Nested types, and so lambdas, iterators and async state machines the
/// compiler generates, count as part of their outermost declaring type, so a <c>new KvmFd()</c> inside a device's
/// lambda is charged to the device.
/// </summary>
public sealed class TypeDependencies
{
    private TypeDependencies(string assemblyName, IReadOnlyDictionary<string, IReadOnlySet<string>> references, ImmutableArray<string> assemblyReferences)
    {
        AssemblyName = assemblyName;
        References = references;
        AssemblyReferences = assemblyReferences;
    }

    /// <summary>The assembly's simple name.</summary>
    public string AssemblyName { get; }

    /// <summary>Full name of each top-level type defined in the assembly to the full names of the types it refers to
    /// (outermost declaring type of a nested one; its own name excluded).</summary>
    public IReadOnlyDictionary<string, IReadOnlySet<string>> References { get; }

    /// <summary>Simple names of the assemblies this one references.</summary>
    public ImmutableArray<string> AssemblyReferences { get; }

    /// <summary>Reads the assembly a loaded type came from.</summary>
    public static TypeDependencies Of(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return Read(assembly.Location);
    }

    /// <summary>Reads an assembly file.</summary>
    public static TypeDependencies Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var walker = new Walker(reader, pe);
        var result = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var handle in reader.TypeDefinitions)
        {
            var owner = walker.NameOf(handle);
            if (owner == "<Module>")
            {
                continue;
            }

            if (!result.TryGetValue(owner, out var set))
            {
                set = new HashSet<string>(StringComparer.Ordinal);
                result[owner] = set;
            }

            walker.Collect(handle, set);
        }

        foreach (var (owner, set) in result)
        {
            set.Remove(owner);
        }

        var assemblyReferences = reader.AssemblyReferences
            .Select(h => reader.GetString(reader.GetAssemblyReference(h).Name))
            .ToImmutableArray();
        return new TypeDependencies(
            reader.GetString(reader.GetAssemblyDefinition().Name),
            result.ToFrozenDictionary(p => p.Key, p => (IReadOnlySet<string>)p.Value.ToFrozenSet(StringComparer.Ordinal), StringComparer.Ordinal),
            assemblyReferences);
    }

    /// <summary>The namespace of a full type name (everything before the last dot).</summary>
    public static string NamespaceOf(string fullName)
    {
        ArgumentNullException.ThrowIfNull(fullName);
        var dot = fullName.LastIndexOf('.');
        return dot < 0 ? "" : fullName[..dot];
    }

    /// <summary>True when <paramref name="fullName"/> is in namespace <paramref name="ns"/> or one below it; every
    /// type is in "".</summary>
    public static bool IsIn(string fullName, string ns)
    {
        ArgumentNullException.ThrowIfNull(fullName);
        ArgumentNullException.ThrowIfNull(ns);
        if (ns.Length == 0)
        {
            return true;
        }

        var typeNamespace = NamespaceOf(fullName);
        return typeNamespace == ns || typeNamespace.StartsWith(ns + ".", StringComparison.Ordinal);
    }

    /// <summary>Every (type, referenced type) pair where the type is in one of <paramref name="from"/> and the
    /// referenced type in one of <paramref name="to"/>, as "Type -> Referenced", sorted.</summary>
    public IReadOnlyList<string> Edges(IEnumerable<string> from, IEnumerable<string> to)
    {
        var fromList = from.ToArray();
        var toList = to.ToArray();
        return References
            .Where(p => fromList.Any(ns => IsIn(p.Key, ns)))
            .SelectMany(p => p.Value.Where(r => toList.Any(ns => IsIn(r, ns))).Select(r => $"{p.Key} -> {r}"))
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    private sealed class Walker : ISignatureTypeProvider<string, HashSet<string>>
    {
        private static readonly FrozenDictionary<short, OperandType> OperandTypes = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToFrozenDictionary(o => o.Value, o => o.OperandType);

        private readonly MetadataReader _reader;
        private readonly PEReader _pe;
        private HashSet<string> _current = [];

        public Walker(MetadataReader reader, PEReader pe)
        {
            _reader = reader;
            _pe = pe;
        }

        /// <summary>Full name of the outermost type that declares <paramref name="handle"/>.</summary>
        public string NameOf(TypeDefinitionHandle handle)
        {
            var type = _reader.GetTypeDefinition(handle);
            while (type.IsNested)
            {
                type = _reader.GetTypeDefinition(type.GetDeclaringType());
            }

            return Join(_reader.GetString(type.Namespace), _reader.GetString(type.Name));
        }

        private string NameOf(TypeReferenceHandle handle)
        {
            var type = _reader.GetTypeReference(handle);
            while (type.ResolutionScope.Kind == HandleKind.TypeReference)
            {
                type = _reader.GetTypeReference((TypeReferenceHandle)type.ResolutionScope);
            }

            return Join(_reader.GetString(type.Namespace), _reader.GetString(type.Name));
        }

        private static string Join(string ns, string name) => ns.Length == 0 ? name : ns + "." + name;

        public void Collect(TypeDefinitionHandle handle, HashSet<string> into)
        {
            _current = into;
            var type = _reader.GetTypeDefinition(handle);
            AddType(type.BaseType, into);
            foreach (var i in type.GetInterfaceImplementations())
            {
                AddType(_reader.GetInterfaceImplementation(i).Interface, into);
            }

            AddGenericParameters(type.GetGenericParameters(), into);
            AddAttributes(type.GetCustomAttributes(), into);
            foreach (var f in type.GetFields())
            {
                var field = _reader.GetFieldDefinition(f);
                field.DecodeSignature(this, into);
                AddAttributes(field.GetCustomAttributes(), into);
            }

            foreach (var p in type.GetProperties())
            {
                var property = _reader.GetPropertyDefinition(p);
                property.DecodeSignature(this, into);
                AddAttributes(property.GetCustomAttributes(), into);
            }

            foreach (var e in type.GetEvents())
            {
                var ev = _reader.GetEventDefinition(e);
                AddType(ev.Type, into);
                AddAttributes(ev.GetCustomAttributes(), into);
            }

            foreach (var m in type.GetMethods())
            {
                var method = _reader.GetMethodDefinition(m);
                method.DecodeSignature(this, into);
                AddGenericParameters(method.GetGenericParameters(), into);
                AddAttributes(method.GetCustomAttributes(), into);
                foreach (var p in method.GetParameters())
                {
                    AddAttributes(_reader.GetParameter(p).GetCustomAttributes(), into);
                }

                if (method.RelativeVirtualAddress != 0)
                {
                    AddBody(_pe.GetMethodBody(method.RelativeVirtualAddress), into);
                }
            }
        }

        private void AddGenericParameters(GenericParameterHandleCollection parameters, HashSet<string> into)
        {
            foreach (var g in parameters)
            {
                foreach (var c in _reader.GetGenericParameter(g).GetConstraints())
                {
                    AddType(_reader.GetGenericParameterConstraint(c).Type, into);
                }
            }
        }

        private void AddAttributes(CustomAttributeHandleCollection attributes, HashSet<string> into)
        {
            foreach (var a in attributes)
            {
                AddMember(_reader.GetCustomAttribute(a).Constructor, into);
            }
        }

        private void AddBody(MethodBodyBlock body, HashSet<string> into)
        {
            if (!body.LocalSignature.IsNil)
            {
                foreach (var local in _reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, into))
                {
                    _ = local;
                }
            }

            foreach (var region in body.ExceptionRegions)
            {
                AddType(region.CatchType, into);
            }

            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                short code = il.ReadByte();
                if (code == 0xFE)
                {
                    code = unchecked((short)(0xFE00 | il.ReadByte()));
                }

                switch (OperandTypes[code])
                {
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineSwitch:
                        var targets = il.ReadInt32(); // read before Offset: `Offset += Read()` would lose the count's 4 bytes
                        il.Offset += 4 * targets;
                        break;
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                        AddMember(MetadataTokens.EntityHandle(il.ReadInt32()), into);
                        break;
                    case OperandType.InlineSig:
                        var sig = (StandaloneSignatureHandle)MetadataTokens.EntityHandle(il.ReadInt32());
                        _reader.GetStandaloneSignature(sig).DecodeMethodSignature(this, into);
                        break;
                    default: // InlineBrTarget, InlineI, ShortInlineR, InlineString
                        il.Offset += 4;
                        break;
                }
            }
        }

        /// <summary>A type, field, method or member reference token: its declaring type and its signature's types.</summary>
        private void AddMember(EntityHandle handle, HashSet<string> into)
        {
            if (handle.IsNil)
            {
                return;
            }

            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition or HandleKind.TypeReference or HandleKind.TypeSpecification:
                    AddType(handle, into);
                    break;
                case HandleKind.FieldDefinition:
                    var field = _reader.GetFieldDefinition((FieldDefinitionHandle)handle);
                    into.Add(NameOf(field.GetDeclaringType()));
                    field.DecodeSignature(this, into);
                    break;
                case HandleKind.MethodDefinition:
                    var method = _reader.GetMethodDefinition((MethodDefinitionHandle)handle);
                    into.Add(NameOf(method.GetDeclaringType()));
                    method.DecodeSignature(this, into);
                    break;
                case HandleKind.MemberReference:
                    var member = _reader.GetMemberReference((MemberReferenceHandle)handle);
                    AddMember(member.Parent, into);
                    if (member.GetKind() == MemberReferenceKind.Method)
                    {
                        member.DecodeMethodSignature(this, into);
                    }
                    else
                    {
                        member.DecodeFieldSignature(this, into);
                    }

                    break;
                case HandleKind.MethodSpecification:
                    var spec = _reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    AddMember(spec.Method, into);
                    spec.DecodeSignature(this, into);
                    break;
            }
        }

        private void AddType(EntityHandle handle, HashSet<string> into)
        {
            if (handle.IsNil)
            {
                return;
            }

            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    into.Add(NameOf((TypeDefinitionHandle)handle));
                    break;
                case HandleKind.TypeReference:
                    into.Add(NameOf((TypeReferenceHandle)handle));
                    break;
                case HandleKind.TypeSpecification:
                    _reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, into);
                    break;
            }
        }

        // Signature decoding: each named type met anywhere in a signature (generic arguments included) is recorded
        // in the set of the type being walked; the returned strings are not used.
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            _current.Add(NameOf(handle));
            return "";
        }

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind)
        {
            _current.Add(NameOf(handle));
            return "";
        }

        public string GetTypeFromSpecification(MetadataReader reader, HashSet<string> genericContext, TypeSpecificationHandle handle, byte rawTypeKind)
        {
            AddType(handle, genericContext);
            return "";
        }

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => "";

        public string GetSZArrayType(string elementType) => "";

        public string GetArrayType(string elementType, ArrayShape shape) => "";

        public string GetByReferenceType(string elementType) => "";

        public string GetPointerType(string elementType) => "";

        public string GetPinnedType(string elementType) => "";

        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => "";

        public string GetGenericMethodParameter(HashSet<string> genericContext, int index) => "";

        public string GetGenericTypeParameter(HashSet<string> genericContext, int index) => "";

        public string GetFunctionPointerType(MethodSignature<string> signature) => "";

        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => "";

        public string GetTypeFromSerializedName(string name) => name;

        public PrimitiveTypeCode GetUnderlyingEnumType(string type) => PrimitiveTypeCode.Int32;

        public bool IsSystemType(string type) => false;
    }
}
